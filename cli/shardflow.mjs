#!/usr/bin/env node
// The `shardflow` command. TypeScript sources run through tsx, so pipeline
// definitions in pipelines/*.ts load without a build step.
import { register } from 'tsx/esm/api';

register();
await import('./main.ts');
