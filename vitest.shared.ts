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
    // The AWS SDK's notice that its 2027 releases need Node 22 (see the README), not news in every test run.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
