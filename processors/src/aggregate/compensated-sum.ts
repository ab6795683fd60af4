/**
 * Neumaier's compensated sum: double sums stay within a few ulps of the exact sum however many
 * terms a window holds (the contract asks for 1e-9 relative).
 */
export interface CompensatedSum {
  sum: number;
  compensation: number;
}

export const createSum = (): CompensatedSum => ({ sum: 0, compensation: 0 });

export function addToSum(acc: CompensatedSum, value: number): void {
  const total = acc.sum + value;
  acc.compensation +=
    Math.abs(acc.sum) >= Math.abs(value) ? acc.sum - total + value : value - total + acc.sum;
  acc.sum = total;
}

export function mergeSums(a: CompensatedSum, b: CompensatedSum): CompensatedSum {
  const merged = { sum: a.sum, compensation: a.compensation + b.compensation };
  addToSum(merged, b.sum);
  return merged;
}

export const sumValue = (acc: CompensatedSum): number => acc.sum + acc.compensation;
