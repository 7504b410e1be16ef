// Drives a real flagtop control plane through the official OpenFeature web SDK and its OFREP web
// provider, under Node (tests/ofrep_web.rs runs this): the bulk contract — a bulk evaluation
// with an ETag, a 304 for the same context, the event stream's refetchEvaluation and the
// re-fetch it causes. Prints one JSON line per step:
//   node drive.mjs FLAG TARGETING_KEY REGION
// OFREP_ENDPOINT is the server's base URL, OFREP_TOKEN the token (never on the command line).
// Node 20 has fetch but no EventSource: the `eventsource` package stands in for the browser's,
// given the token on its requests (a browser's EventSource cannot send one; see
// docs/openfeature.md).
import { OpenFeature, ProviderEvents } from '@openfeature/web-sdk';
import { OFREPWebProvider } from '@openfeature/ofrep-web-provider';
import { EventSource } from 'eventsource';

const [flag, targetingKey, region] = process.argv.slice(2);
const base = process.env.OFREP_ENDPOINT;
const token = process.env.OFREP_TOKEN;
const out = (o) => console.log(JSON.stringify(o));

// Every request the provider makes, as the server answered it.
const requests = [];
async function countingFetch(input, init) {
  const url = new URL(typeof input === 'string' ? input : input.url);
  const headers = new Headers(init?.headers ?? (typeof input === 'string' ? undefined : input.headers));
  const r = await fetch(input, init);
  requests.push({
    path: url.pathname,
    query: url.search,
    status: r.status,
    ifNoneMatch: headers.get('if-none-match'),
    etag: r.headers.get('etag'),
  });
  return r;
}

let opened = 0;
const streams = [];
class TokenEventSource extends EventSource {
  constructor(url, init) {
    super(url, {
      ...init,
      fetch: (u, i) => fetch(u, { ...i, headers: { ...(i?.headers ?? {}), 'X-API-Key': token } }),
    });
    streams.push(new URL(String(url)).pathname);
    this.addEventListener('open', () => { opened += 1; });
  }
}
globalThis.EventSource = TokenEventSource;

const provider = new OFREPWebProvider({
  baseUrl: base,
  headers: [['X-API-Key', token]],
  fetchImplementation: countingFetch,
  cacheMode: 'disabled',
  disableVisibilityRefresh: true,
});
const context = { targetingKey, region };
await OpenFeature.setContext(context);
await OpenFeature.setProviderAndWait(provider);
const client = OpenFeature.getClient();
const detail = () => {
  const d = client.getBooleanDetails(flag, false);
  return { value: d.value, reason: d.reason ?? null, variant: d.variant ?? null, error: d.errorCode ?? null };
};
out({ step: 'ready', ...detail(), requests: requests.splice(0) });

// The same context again: the provider sends its ETag and the server answers 304.
await OpenFeature.setContext({ ...context });
out({ step: 'same-context', ...detail(), requests: requests.splice(0) });

const deadline = Date.now() + 10_000;
while (opened === 0 && Date.now() < deadline) {
  await new Promise((r) => setTimeout(r, 50));
}
const changed = new Promise((resolve) => client.addHandler(ProviderEvents.ConfigurationChanged, resolve));
out({ step: 'listening', opened, streams });

// The test changes the flag now; the stream's refetchEvaluation makes the provider re-fetch.
const timer = setTimeout(() => {
  out({ step: 'timeout', ...detail(), requests: requests.splice(0) });
  process.exit(1);
}, 20_000);
await changed;
clearTimeout(timer);
out({ step: 'changed', ...detail(), requests: requests.splice(0) });
await OpenFeature.close();
process.exit(0);
