// A real third-party client against a real server: the npm package ovenmediaengine-ts-sdk
// (1.0.3) drives `omeapi serve` (granian, simulated engine) on 127.0.0.1 and a free port.
//
// Every SDK call the simulated engine can serve is made and its result checked.  The SDK's
// quirks are checked as omeapi answers them:
//   * its paths lack the `/v1` prefix unless `setVersion('v1')` is called;
//   * it reads record and push jobs with the deprecated GET `:records` / `:pushes`;
//   * its certificate reloads are sent with DELETE: `DELETE /v1/vhosts:reloadAllCertificates`
//     is 405 with `Allow: POST, OPTIONS` (contract: wrong method on a known path), and
//     `DELETE /v1/vhosts/{vhost}:reloadCertificate` is, as in OME, a delete of the vhost
//     named `{vhost}:reloadCertificate` (vhost names may contain `:`): 404 when there is none.
//
// Run: `npm ci && node --test` here; OMEAPI_PYTHON names the Python that has omeapi (default
// python3).  The server is stopped (its whole process group) when the tests end, and a
// watchdog stops it if they hang.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

// Only 127.0.0.1 is ever contacted: no proxy from the environment.
for (const name of ["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"]) {
  delete process.env[name];
}
process.env.NO_PROXY = "*";

const require = createRequire(import.meta.url);
const OvenMediaEngineSDK = require("ovenmediaengine-ts-sdk").default;

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, "..", "..");
const PYTHON = process.env.OMEAPI_PYTHON || "python3";
const TOKEN = "sdk-token";
const WATCHDOG_MS = 240_000;
const LIMIT = { timeout: 60_000 }; // per test

let server = null;
let port = 0;
let directory = "";
let stderr = "";

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.unref();
    probe.on("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port: found } = probe.address();
      probe.close(() => resolve(found));
    });
  });
}

function serverXml() {
  return `<?xml version="1.0" encoding="UTF-8"?>
<Server version="8">
  <Name>omeapi-sdk-test</Name>
  <Type>origin</Type>
  <IP>127.0.0.1</IP>
  <Bind><Managers><API><Port>8081</Port><WorkerCount>4</WorkerCount></API></Managers></Bind>
  <Managers>
    <Host><Names><Name>127.0.0.1</Name><Name>localhost</Name></Names></Host>
    <API><AccessToken>${TOKEN}</AccessToken></API>
  </Managers>
  <VirtualHosts>
    <VirtualHost>
      <Name>default</Name>
      <Applications>
        <Application><Name>app</Name><Type>live</Type><Providers><RTMP/></Providers></Application>
      </Applications>
    </VirtualHost>
  </VirtualHosts>
</Server>
`;
}

function killGroup(signal) {
  if (server && server.exitCode === null && server.signalCode === null) {
    try {
      process.kill(-server.pid, signal);
    } catch {
      // already gone
    }
  }
}

async function waitForPort(deadlineMs) {
  const end = Date.now() + deadlineMs;
  while (Date.now() < end) {
    if (server.exitCode !== null) {
      throw new Error(`omeapi serve exited with ${server.exitCode}:\n${stderr}`);
    }
    const open = await new Promise((resolve) => {
      const socket = net.connect({ host: "127.0.0.1", port }, () => {
        socket.end();
        resolve(true);
      });
      socket.on("error", () => resolve(false));
    });
    if (open) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`port ${port} never opened:\n${stderr}`);
}

before(async () => {
  directory = fs.mkdtempSync(path.join(os.tmpdir(), "omeapi-sdk-"));
  const config = path.join(directory, "Server.xml");
  fs.writeFileSync(config, serverXml());
  port = await freePort();
  const pythonPath = [ROOT, path.join(ROOT, "adapters"), process.env.PYTHONPATH]
    .filter(Boolean)
    .join(path.delimiter);
  server = spawn(
    PYTHON,
    ["-m", "omeapi.cli", "serve", config, "--address", "127.0.0.1", "--port", String(port)],
    {
      cwd: directory,
      env: { ...process.env, PYTHONPATH: pythonPath },
      detached: true, // its own process group: stopped as a whole
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  server.stderr.on("data", (chunk) => {
    stderr += chunk;
  });
  // Whatever happens to this process, the server goes with it.
  process.on("exit", () => killGroup("SIGKILL"));
  setTimeout(() => killGroup("SIGKILL"), WATCHDOG_MS).unref();
  await waitForPort(30_000);
});

after(async () => {
  killGroup("SIGTERM");
  if (server && server.exitCode === null && server.signalCode === null) {
    const stopped = await new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), 15_000);
      server.once("exit", () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    if (!stopped) killGroup("SIGKILL");
  }
  fs.rmSync(directory, { recursive: true, force: true });
});

function client({ auth = true, version = true } = {}) {
  const sdk = new OvenMediaEngineSDK({ baseURL: `http://127.0.0.1:${port}`, timeout: 10_000 });
  sdk.api.defaults.proxy = false; // never a proxy, whatever the environment says
  if (auth) sdk.setAuthorization(TOKEN);
  if (version) sdk.setVersion("v1");
  return sdk;
}

/** The response of a call that must succeed with the envelope `{message: OK, response}`. */
async function ok(call) {
  const res = await call;
  assert.equal(res.status, 200);
  assert.match(res.headers["content-type"], /^application\/json;charset=UTF-8$/);
  assert.equal(res.data.statusCode, 200);
  assert.equal(res.data.message, "OK");
  return res.data.response;
}

/** A call that must succeed with a plain status and no data. */
async function plain(call, status = 200) {
  const res = await call;
  assert.equal(res.status, status);
  assert.deepEqual(res.data, { message: status === 201 ? "Created" : "OK", statusCode: status });
}

/** A call the server must refuse with `status` (the envelope, or a multi-item array whose
 * items all failed alike); the axios error's response. */
async function refused(call, status) {
  try {
    await call;
  } catch (error) {
    assert.ok(error.response, `no HTTP answer: ${error.message}`);
    const { data } = error.response;
    assert.equal(error.response.status, status, JSON.stringify(data));
    for (const entry of Array.isArray(data) ? data : [data]) {
      assert.equal(entry.statusCode, status);
    }
    return error.response;
  }
  assert.fail(`expected HTTP ${status}`);
}

/** Every item of a multi-item answer succeeded: the items' responses. */
async function items(call) {
  const res = await call;
  assert.equal(res.status, 200);
  assert.ok(Array.isArray(res.data), "a bare array");
  for (const item of res.data) {
    assert.equal(item.statusCode, 200, JSON.stringify(item));
  }
  return res.data.map((item) => item.response);
}

const V = "sdk";
const A = "live";

test("virtual hosts", LIMIT, async () => {
  const sdk = client();
  assert.deepEqual(await ok(sdk.getVirtualHosts()), ["default"]);
  assert.equal((await ok(sdk.getVirtualHost("default"))).name, "default");
  const [created] = await items(
    sdk.createVirtualHost([{ name: V, host: { names: ["sdk.example.com"] } }]),
  );
  assert.deepEqual(created, { host: { names: ["sdk.example.com"] }, name: V });
  assert.deepEqual(await ok(sdk.getVirtualHosts()), ["default", V]);
  assert.deepEqual(await ok(sdk.getVirtualHost(V)), created);
  const again = await refused(sdk.createVirtualHost([{ name: V }]), 409);
  assert.deepEqual(again.data, [
    { message: `The virtual host already exists: [${V}]`, statusCode: 409 },
  ]);
  const readOnly = await refused(sdk.deleteVirtualHost("default"), 403);
  assert.equal(readOnly.data.message, "[HTTP] The VirtualHost is read-only: [default] (403)");
  await refused(sdk.getVirtualHost("nope"), 404);
});

test("applications", LIMIT, async () => {
  const sdk = client();
  const app = {
    name: A,
    type: "live",
    providers: { rtmp: {}, rtspPull: {} },
    publishers: { llhls: {}, push: {}, file: { rootPath: path.join(directory, "rec") } },
  };
  const [created] = await items(sdk.createApp(V, [app]));
  assert.equal(created.name, A);
  assert.equal(created.dynamic, false);
  assert.deepEqual(created.outputProfiles.outputProfile.map((p) => p.name), ["default"]);
  assert.deepEqual(await ok(sdk.getApps(V)), [A]);
  assert.deepEqual(await ok(sdk.getApp(V, A)), created);
  const patched = await ok(sdk.patchApp(V, A, { publishers: { appWorkerCount: 2 } }));
  assert.equal(patched.publishers.appWorkerCount, 2);
  assert.deepEqual(patched.publishers.push, {});
  const renamed = await refused(sdk.patchApp(V, A, { name: "other" }), 400);
  assert.equal(renamed.data.message, "[HTTP] Cannot change [name] using this API (400)");
  await refused(sdk.createApp("default", [{ name: "x", type: "live" }]), 403);
  await refused(sdk.getApp(V, "nope"), 404);
});

test("output profiles", LIMIT, async () => {
  const sdk = client();
  assert.deepEqual(await ok(sdk.getOutputProfiles(V, A)), ["default"]);
  const profile = {
    name: "low",
    outputStreamName: "${OriginStreamName}_low",
    encodes: { videos: [{ name: "h264_360", codec: "h264", height: 360, bitrate: 800000 }] },
  };
  const [created] = await items(sdk.createOutputProfile(V, A, [profile]));
  assert.deepEqual(created, profile);
  assert.deepEqual(await ok(sdk.getOutputProfiles(V, A)), ["default", "low"]);
  assert.deepEqual(await ok(sdk.getOutputProfile(V, A, "low")), profile);
  await refused(sdk.createOutputProfile(V, A, [profile]), 409);
  await plain(sdk.deleteOutputProfile(V, A, "low"));
  await refused(sdk.getOutputProfile(V, A, "low"), 404);
});

test("streams: pull, detail", LIMIT, async () => {
  const sdk = client();
  assert.deepEqual(await ok(sdk.getStreams(V, A)), []);
  await plain(sdk.createStream(V, A, { name: "cam", urls: ["rtsp://camera.example/live"] }), 201);
  await refused(sdk.createStream(V, A, { name: "cam", urls: ["rtsp://camera.example/live"] }), 409);
  assert.deepEqual(await ok(sdk.getStreams(V, A)), ["cam"]);
  const stream = await ok(sdk.getStream(V, A, "cam"));
  assert.equal(stream.name, "cam");
  assert.equal(stream.input.sourceType, "RtspPull");
  assert.equal(stream.input.sourceUrl, "rtsp://camera.example/live");
  assert.deepEqual(stream.outputs.map((o) => o.name), ["cam"]);
  await refused(sdk.getStream(V, A, "nope"), 404);
});

test("push publishing (GET :pushes)", LIMIT, async () => {
  const sdk = client();
  const push = {
    id: "yt",
    stream: { name: "cam" },
    protocol: "rtmp",
    url: "rtmp://live.example/app",
    streamKey: "key",
  };
  const started = await ok(sdk.startPushPublishing(V, A, push));
  assert.equal(started.id, "yt");
  assert.equal(started.state, "ready");
  assert.equal(started.url, "rtmp://live.example/app");
  await refused(sdk.startPushPublishing(V, A, push), 400); // Duplicate ID
  const pushes = await ok(sdk.getPushPublishingState(V, A));
  assert.deepEqual(pushes.map((p) => p.id), ["yt"]);
  assert.ok(["ready", "connecting", "pushing"].includes(pushes[0].state), pushes[0].state);
  await plain(sdk.stopPushPublishing(V, A, { id: "yt" }));
  await refused(sdk.stopPushPublishing(V, A, { id: "nope" }), 404);
});

test("recording (GET :records)", LIMIT, async () => {
  const sdk = client();
  const started = await ok(sdk.startRecording(V, A, { id: "rec", stream: { name: "cam" } }));
  assert.equal(started.id, "rec");
  assert.equal(started.state, "ready");
  const records = await ok(sdk.getRecordingState(V, A));
  assert.deepEqual(records.map((r) => r.id), ["rec"]);
  const stopped = await ok(sdk.stopRecording(V, A, { id: "rec" }));
  assert.equal(stopped.state, "stopping");
  const missing = await refused(sdk.stopRecording(V, A, { id: "nope" }), 404);
  assert.equal(
    missing.data.message,
    "[HTTP] There is no record information related to the ID [nope] (404)",
  );
});

test("events and HLS dumps", LIMIT, async () => {
  const sdk = client();
  await plain(
    sdk.sendEvent(V, A, "cam", {
      eventFormat: "id3v2",
      eventType: "video",
      events: [{ frameType: "TXXX", info: "AppName", data: "omeapi" }],
    }),
  );
  await refused(sdk.sendEvent(V, A, "cam", { eventFormat: "amf", events: [{}] }), 400);
  const dump = { id: "d1", outputStreamName: "cam", outputPath: path.join(directory, "dump") };
  await plain(sdk.startDump(V, A, "cam", dump));
  await refused(sdk.startDump(V, A, "cam", dump), 409);
  await plain(sdk.stopDump(V, A, "cam", { outputStreamName: "cam", id: "d1" }));
  await refused(sdk.stopDump(V, A, "cam", { outputStreamName: "nope" }), 404);
});

test("statistics", LIMIT, async () => {
  const sdk = client();
  const keys = ["createdTime", "totalBytesIn", "totalBytesOut", "totalConnections", "connections"];
  for (const stats of [
    await ok(sdk.getVirtualHostStatistics(V)),
    await ok(sdk.getApplicationStatistics(V, A)),
    await ok(sdk.getStreamStatistics(V, A, "cam")),
  ]) {
    for (const key of keys) assert.ok(key in stats, key);
    assert.equal(typeof stats.totalBytesIn, "number");
    assert.equal(stats.connections.push, 0); // the push was stopped
  }
  await refused(sdk.getStreamStatistics(V, A, "nope"), 404);
});

test("certificate reloads are sent with DELETE", LIMIT, async () => {
  const sdk = client();
  // DELETE on the reload-all route: 405, and Allow names the method that works.
  const all = await refused(sdk.reloadAllCertificates(), 405);
  assert.equal(all.headers.allow, "POST, OPTIONS");
  assert.deepEqual(all.data, {
    message: "[HTTP] Method not allowed: DELETE (405)",
    statusCode: 405,
  });
  // DELETE /v1/vhosts/sdk:reloadCertificate is the delete route of a vhost named
  // "sdk:reloadCertificate" (OME's routing: vhost names may contain ':'): none exists.
  const one = await refused(sdk.reloadAllCertificate(V), 404);
  assert.deepEqual(one.data, {
    message: `[HTTP] Could not find the virtual host: [${V}:reloadCertificate] (404)`,
    statusCode: 404,
  });
  assert.deepEqual(await ok(sdk.getVirtualHosts()), ["default", V]); // nothing was deleted
  // What the SDK should send (its own axios instance, the right method) works.
  await plain(sdk.api.post("/vhosts:reloadAllCertificates"));
  await plain(sdk.api.post(`/vhosts/${V}:reloadCertificate`));
});

test("authentication and the /v1 prefix", LIMIT, async () => {
  const anonymous = await refused(client({ auth: false }).getVirtualHosts(), 401);
  assert.equal(anonymous.headers["www-authenticate"], 'Basic realm="OvenMediaEngine"');
  assert.equal(
    anonymous.data.message,
    "[HTTP] Authorization header is required to call API (401)",
  );
  // Without setVersion('v1') the SDK's paths miss the version prefix.
  const unversioned = await refused(client({ version: false }).getVirtualHosts(), 404);
  assert.equal(unversioned.data.message, "[HTTP] Controller not found (404)");
});

test("clean up: stream, app, vhost", LIMIT, async () => {
  const sdk = client();
  await plain(sdk.deleteStream(V, A, "cam"));
  await refused(sdk.deleteStream(V, A, "cam"), 404);
  assert.deepEqual(await ok(sdk.getStreams(V, A)), []);
  await plain(sdk.deleteApp(V, A));
  await refused(sdk.deleteApp(V, A), 404);
  await plain(sdk.deleteVirtualHost(V));
  assert.deepEqual(await ok(sdk.getVirtualHosts()), ["default"]);
});
