/** Token counts of one call, input including its cached parts (the OTel convention of the contract). */
export interface TokenUsage {
  input_tokens: number;
  output_tokens: number;
  cache_read_input_tokens: number;
  cache_write_input_tokens: number;
}

/** Cost of a usage at per-million-token prices; cache tokens are priced apart from the rest of the input. */
export function costAtPrices(
  usage: TokenUsage,
  input: number,
  output: number,
  cacheRead: number,
  cacheWrite: number,
): number {
  const uncachedInput = usage.input_tokens - usage.cache_read_input_tokens - usage.cache_write_input_tokens;
  return (
    (uncachedInput * input +
      usage.cache_read_input_tokens * cacheRead +
      usage.cache_write_input_tokens * cacheWrite +
      usage.output_tokens * output) /
    1e6
  );
}
