// The pre-warmed harness run through tsx: `node --import tsx harness/src/prewarm.ts [--agent pid:starttime]`.
// Everything is in warm.ts; the built harness runs the same as `dist/harness.mjs --prewarm`.
import { runPrewarmed } from './warm';

await runPrewarmed();
