#!/usr/bin/env node
import { buildProgram } from './program.js';

// The AWS SDK warns under Node 20 that its 2027 releases will need Node 22 (the README says so once);
// on every run it would bury the one-line reasons and summaries users read. The SDK's own switch.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

try {
  await buildProgram().parseAsync(process.argv);
} catch (error) {
  // Operational failures end with one line naming what broke; no stack trace for users.
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`genai-pipeline: ${message.split('\n')[0]}\n`);
  process.exitCode = 1;
}
