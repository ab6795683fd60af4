import { OperationalError } from '@genai-pipeline/schemas';

/**
 * A caller broke a rule of the lake writer (bad row, bad ordinal, bad name). A programming error:
 * retrying the same call fails the same way.
 */
export class LakeUsageError extends Error {
  readonly retriable = false;

  constructor(message: string) {
    super(message);
    this.name = 'LakeUsageError';
  }
}

/** A row does not match its table's spec. Names the table, the column and the row's index in its batch. */
export class LakeRowError extends LakeUsageError {
  constructor(
    readonly table: string,
    readonly column: string,
    readonly rowIndex: number,
    rule: string,
  ) {
    super(`lake table ${table}, row ${rowIndex}, column ${column}: ${rule} (not retriable: fix the row)`);
    this.name = 'LakeRowError';
  }
}

/** A store could not write a file. `retriable` says whether the same write may succeed later. */
export class LakeStoreError extends OperationalError {
  constructor(
    readonly path: string,
    message: string,
    retriable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, retriable, options);
  }
}
