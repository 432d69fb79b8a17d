#!/usr/bin/env node
// The `shardflow` command (package.json bin). An installed package runs the compiled
// JavaScript in dist/; the source checkout, which has cli/main.ts beside this file and
// no build step, runs the TypeScript through tsx (a dev dependency of the repository only).
import { existsSync } from 'node:fs';

// The lockfile pins an AWS SDK release that supports Node.js 20 (docs/architecture.md);
// its reminder that later releases need Node.js 22 would only clutter stderr.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

if (existsSync(new URL('./main.ts', import.meta.url))) {
  const { register } = await import('tsx/esm/api');
  register();
  await import('./main.ts');
} else {
  await import('../dist/cli/main.js');
}
