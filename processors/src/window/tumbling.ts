/** Tumbling event-time windows of 60 s aligned to the epoch (CONTRACT.md §2). */
export const WINDOW_MS = 60_000;

export const windowStartOf = (eventTime: number): number => Math.floor(eventTime / WINDOW_MS) * WINDOW_MS;
