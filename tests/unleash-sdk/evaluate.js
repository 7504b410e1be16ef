// The official Node SDK (unleash-client) against the Unleash under test: fetch the toggles once,
// evaluate USERS synthetic users (half in eu-west, half in us-east) for FLAG, print the share
// exposed per region as JSON, exit. Used by tests/unleash_sdk.rs; nothing here is flagtop code.
const { initialize } = require('unleash-client');

const [url, token, flag, users] = [process.env.UNLEASH_URL, process.env.UNLEASH_SDK_TOKEN, process.env.FLAG, Number(process.env.USERS || 10000)];
const regions = ['eu-west', 'us-east'];

const client = initialize({
  url: `${url}/api/`,
  appName: 'flagtop-sdk-test',
  customHeaders: { Authorization: token },
  refreshInterval: 1000,
  disableMetrics: true,
});

const timer = setTimeout(() => {
  console.error('the SDK did not synchronise within 20 s');
  process.exit(2);
}, 20000);

client.on('error', (e) => console.error('sdk error:', e.message));
client.once('synchronized', () => {
  clearTimeout(timer);
  const on = Object.fromEntries(regions.map((r) => [r, 0]));
  const n = Object.fromEntries(regions.map((r) => [r, 0]));
  for (let i = 0; i < users; i++) {
    const region = regions[i % regions.length];
    n[region] += 1;
    if (client.isEnabled(flag, { userId: `user-${i}`, properties: { region } })) on[region] += 1;
  }
  const shares = Object.fromEntries(regions.map((r) => [r, on[r] / n[r]]));
  console.log(JSON.stringify(shares));
  client.destroy();
  process.exit(0);
});
