// The entry of the built harness (harness/dist/harness.mjs, see harness/scripts/build.mjs): one file for both ways a
// harness starts. `node harness.mjs` runs a task now, as `main.ts` does; `node harness.mjs --prewarm` is a
// pre-warmed harness that waits for its task (warm.ts).
import { runAsProcess } from './main';
import { runPrewarmed } from './warm';

if (process.argv.includes('--prewarm')) await runPrewarmed();
else runAsProcess();
