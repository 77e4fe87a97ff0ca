#!/usr/bin/env node
// The `hero-admin` bin: runs the TypeScript CLI (cli/src/main.ts) through tsx. npm links it
// into node_modules/.bin, so `npx hero-admin …` runs it under the project's Node 24.
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
