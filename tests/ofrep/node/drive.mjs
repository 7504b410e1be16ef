// Drives a real flagtop control plane through the official OpenFeature Node server SDK and its
// OFREP provider (tests/ofrep/ runs this). Prints one JSON line per evaluation, as drive.py.
//   node drive.mjs evaluate FLAG N      N synthetic users (the same ones as drive.py)
// OFREP_ENDPOINT is the server's base URL, OFREP_TOKEN the token (never on the command line).
import { OpenFeature } from '@openfeature/server-sdk';
import { OFREPProvider } from '@openfeature/ofrep-provider';

const REGIONS = ['eu-west', 'us-east', 'ap-south'];

function user(i) {
  const ctx = { targetingKey: `user-${i}`, region: REGIONS[i % 3] };
  if (i % 100 === 0) ctx.segments = ['internal'];
  else if (i % 100 === 1) ctx.segments = ['beta'];
  return ctx;
}

const [mode, flag, n] = process.argv.slice(2);
if (mode !== 'evaluate') {
  console.error(`unknown mode ${mode}`);
  process.exit(2);
}
await OpenFeature.setProviderAndWait(
  new OFREPProvider({ baseUrl: process.env.OFREP_ENDPOINT, headers: [['X-API-Key', process.env.OFREP_TOKEN]] }),
);
const client = OpenFeature.getClient();
const lines = [];
for (let i = 0; i < Number(n); i++) {
  const ctx = user(i);
  const d = await client.getBooleanDetails(flag, false, ctx);
  const { targetingKey, ...attributes } = ctx;
  lines.push(JSON.stringify({
    name: targetingKey,
    value: d.value,
    variant: d.variant ?? null,
    reason: d.reason ?? null,
    error: d.errorCode ?? null,
    cohort: d.flagMetadata?.cohort ?? null,
    attributes,
  }));
}
process.stdout.write(lines.join('\n') + '\n');
await OpenFeature.close();
