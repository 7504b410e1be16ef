// Starts Unleash in-process for flagtop's tests: private PostgreSQL, loopback only, no
// telemetry or version checks (there is no internet here). Configured by scripts/unleash.
const { start } = require('unleash-server');

start({
  db: {
    host: '127.0.0.1',
    port: Number(process.env.PGPORT),
    user: 'postgres',
    password: 'postgres',
    database: 'unleash',
    ssl: false,
  },
  server: { host: '127.0.0.1', port: Number(process.env.UNLEASH_PORT) },
  authentication: { type: 'open-source' },
  versionCheck: { enable: false },
  telemetry: false,
  getLogger: undefined,
  logLevel: 'warn',
}).catch((e) => {
  console.error('unleash failed to start:', e);
  process.exit(1);
});
