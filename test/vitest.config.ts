import { defineConfig, mergeConfig } from 'vitest/config';
import { sharedVitestConfig } from '../vitest.shared.js';

// mergeConfig appends to the shared include list: the support code (dataset generator, oracle,
// comparisons) carries its own unit tests next to it.
export default mergeConfig(sharedVitestConfig, defineConfig({ test: { include: ['support/**/*.test.ts'] } }));
