#!/usr/bin/env node
// The `shardflow` command. TypeScript sources run through tsx, so pipeline
// definitions in pipelines/*.ts load without a build step.
import { register } from 'tsx/esm/api';

// The lockfile pins an AWS SDK release that supports Node.js 20 (DESIGN.md);
// its reminder that later releases need Node.js 22 would only clutter stderr.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

register();
await import('./main.ts');
