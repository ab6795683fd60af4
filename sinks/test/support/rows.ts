import type { ColumnSpec, LakeRow, LakeTableSpec } from '@genai-pipeline/schemas';

const BASE_MS = Date.UTC(2025, 2, 14, 10, 0, 0);

function sampleValue(column: ColumnSpec, i: number): string | number | null {
  if (column.nullable && i % 3 === 0) return null;
  switch (column.type) {
    case 'timestamp':
      return BASE_MS + i * 1_001;
    case 'int64':
      return i * 1_000_003;
    case 'double':
      return i / 7;
    case 'string':
      return `${column.name}-${i}`;
  }
}

/** A valid row of any table: every third row has all nullable columns null. */
export function sampleRow(spec: LakeTableSpec, i: number, overrides: LakeRow = {}): LakeRow {
  const row: LakeRow = {};
  for (const column of spec.columns) row[column.name] = sampleValue(column, i);
  return { ...row, ...overrides };
}
