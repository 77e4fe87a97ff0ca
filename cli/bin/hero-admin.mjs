#!/usr/bin/env node
// The `hero-admin` bin: runs the TypeScript CLI (cli/src/main.ts) through tsx. npm links it
// into node_modules/.bin, so `npx hero-admin …` runs it under the project's Node 24. The
// project declares no `engines` (npm itself runs on the system's Node and would warn on every
// npx call), so an older Node that runs this file directly is refused here, in words.
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  process.stderr.write(
    `hero-admin: needs Node 24 or newer, this is ${process.version}: run it as \`npx hero-admin …\` ` +
      'or `npm run admin -- …` in the repository (both use its Node 24)\n',
  );
  process.exit(1);
}
const { register } = await import('tsx/esm/api');
register();
await import('../src/main.ts');
