import { defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';

// Workspace packages resolve to their TypeScript sources under test, so tests never run stale dist/.
// Without 'module': it picks bundler-only builds (the AWS SDK's dist-es, extensionless imports) that Node
// cannot load when vitest externalizes them.
const sourceConditions = [
  '@genai-pipeline/source',
  ...defaultServerConditions.filter((condition) => condition !== 'module'),
];

export const sharedVitestConfig = defineConfig({
  resolve: { conditions: sourceConditions },
  ssr: { resolve: { conditions: sourceConditions } },
  test: {
    include: ['test/**/*.test.ts', '*.test.ts', 'e2e/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
