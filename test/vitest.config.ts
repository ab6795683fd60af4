import { defineConfig, mergeConfig } from 'vitest/config';
import { sharedVitestConfig } from '../vitest.shared.js';

// mergeConfig appends to the shared include list: the support code (dataset generator, oracle,
// comparisons) and the Kafka test broker carry their own unit tests next to them.
export default mergeConfig(
  sharedVitestConfig,
  defineConfig({ test: { include: ['support/**/*.test.ts', 'kafka-broker/**/*.test.ts'] } }),
);
