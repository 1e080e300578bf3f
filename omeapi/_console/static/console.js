// The omeapi console (docs/console.md): plain JavaScript, no build step, no dependencies.
//
// Every API call carries the token the operator typed, as HTTP Basic base64(token), the
// way OME's own clients send it.  The token lives in this tab's sessionStorage only.
// Names from the API are shown with textContent, never parsed as HTML.
"use strict";

(() => {
  const TOKEN_KEY = "omeapi.console.token";
  const REFRESH_MS = 3000;
  // With the event feed connected, polling only fills the gaps (statistics move on their
  // own, without events).
  const REFRESH_FED_MS = 15000;
  const FEED_PATH = "x-omeapi/v1/events";
  const MAX_STREAMS = 50; // stats requests per refresh stay bounded
  // The console is one path segment under the API's root, wherever that is mounted.
  const API_ROOT = new URL("../", window.location.href);

  const $ = (id) => document.getElementById(id);
  const state = {
    vhost: null,
    app: null,
    vhosts: [],
    apps: {},
    timer: null,
    generation: 0,
    feed: null, // the AbortController of the event feed's request, while it runs
  };

  // --- the API ---------------------------------------------------------------------------

  function basic(token) {
    // btoa takes Latin-1 only: encode the token as UTF-8 bytes first.
    const bytes = new TextEncoder().encode(token);
    let binary = "";
    for (const b of bytes) binary += String.fromCharCode(b);
    return "Basic " + btoa(binary);
  }

  class ApiFailure extends Error {
    constructor(status, messages) {
      super(messages.join("\n"));
      this.status = status;
      this.messages = messages;
    }
  }

  const seg = encodeURIComponent;

  // The envelope's message for a failure; a multi-item answer gives one line per failed item.
  function failureMessages(status, envelope) {
    if (Array.isArray(envelope)) {
      const failed = envelope.filter((item) => item && item.statusCode >= 300);
      return failed.map((item) => String(item.message));
    }
    if (envelope && typeof envelope.message === "string") return [envelope.message];
    return [`HTTP ${status}: the answer is not an API envelope`];
  }

  async function call(method, path, body, token) {
    const headers = { Authorization: basic(token || sessionStorage.getItem(TOKEN_KEY) || "") };
    // "omit": a 401 (with OME's WWW-Authenticate: Basic) then comes back to this code instead
    // of making the browser ask for a user name and password itself.
    const init = { method, headers, cache: "no-store", credentials: "omit" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = body;
    }
    let response;
    try {
      response = await fetch(new URL(path, API_ROOT), init);
    } catch (err) {
      throw new ApiFailure(0, [`The API cannot be reached: ${err.message}`]);
    }
    let envelope = null;
    try {
      envelope = await response.json();
    } catch (err) {
      envelope = null;
    }
    if (response.status === 401 && !token) {
      // The token stopped working (changed on the server): back to the login form.
      logout(failureMessages(response.status, envelope).join("\n"));
    }
    const failed = Array.isArray(envelope)
      ? envelope.some((item) => item && item.statusCode >= 300)
      : response.status >= 300;
    if (failed) throw new ApiFailure(response.status, failureMessages(response.status, envelope));
    return envelope;
  }

  const get = async (path) => (await call("GET", path)).response;

  // --- messages --------------------------------------------------------------------------

  function say(text, ok) {
    const el = $("message");
    el.textContent = text;
    el.className = ok ? "ok" : "error";
  }

  function sayFailure(err) {
    say(err instanceof ApiFailure ? err.message : String(err), false);
  }

  // The text of a JSON editor, parsed; null (and a message) if it is not JSON.
  function parsed(textarea) {
    try {
      return JSON.parse(textarea.value);
    } catch (err) {
      say(`Invalid JSON, nothing sent: ${err.message}`, false);
      textarea.focus();
      return null;
    }
  }

  // Run a change and report it; refresh what it may have changed.
  async function change(label, method, path, textarea) {
    let body;
    if (textarea) {
      if (parsed(textarea) === null && textarea.value.trim() !== "null") return false;
      body = textarea.value;
    }
    try {
      const envelope = await call(method, path, body);
      const items = Array.isArray(envelope) ? envelope.length : 1;
      say(`${label}: ${Array.isArray(envelope) ? `${items} × OK` : envelope.message}`, true);
      return true;
    } catch (err) {
      sayFailure(err);
      return false;
    } finally {
      await refreshTree();
    }
  }

  // --- small DOM helpers -------------------------------------------------------------------

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "text") node.textContent = value;
      else if (key === "onclick") node.addEventListener("click", value);
      else node.setAttribute(key, value);
    }
    for (const child of children) if (child) node.append(child);
    return node;
  }

  function json(value) {
    return JSON.stringify(value, null, 2);
  }

  // A delete button that asks for a second click within five seconds.
  function dangerButton(label, id, action) {
    const button = el("button", { type: "button", class: "danger", id, text: label });
    let armed = null;
    button.addEventListener("click", async () => {
      if (armed === null) {
        button.textContent = `Really ${label.toLowerCase()}?`;
        button.classList.add("armed");
        armed = setTimeout(() => {
          armed = null;
          button.textContent = label;
          button.classList.remove("armed");
        }, 5000);
        return;
      }
      clearTimeout(armed);
      armed = null;
      await action();
    });
    return button;
  }

  function editor(id, label, initial, buttonLabel, onSend) {
    const area = el("textarea", { id, rows: "6", spellcheck: "false" });
    area.value = initial;
    const button = el("button", { type: "button", id: `${id}-send`, text: buttonLabel });
    button.addEventListener("click", () => onSend(area));
    return el("div", { class: "editor" }, el("label", { for: id, text: label }), area, button);
  }

  const number = new Intl.NumberFormat("en");

  function bytes(n) {
    const units = ["B", "KB", "MB", "GB", "TB"];
    let value = Number(n) || 0;
    let unit = 0;
    while (value >= 1000 && unit < units.length - 1) {
      value /= 1000;
      unit += 1;
    }
    return `${value.toFixed(unit ? 1 : 0)} ${units[unit]}`;
  }

  function bits(n) {
    return `${bytes(n).replace("B", "b")}/s`;
  }

  function renderStats(target, metrics) {
    const connections = metrics.connections || {};
    const perProtocol = Object.entries(connections)
      .filter(([, count]) => count > 0)
      .map(([name, count]) => `${name} ${count}`)
      .join(", ");
    const items = [
      ["connections", number.format(metrics.totalConnections || 0)],
      ["peak connections", number.format(metrics.maxTotalConnections || 0)],
      ["in", bits(metrics.lastThroughputIn)],
      ["out", bits(metrics.lastThroughputOut)],
      ["bytes in", bytes(metrics.totalBytesIn)],
      ["bytes out", bytes(metrics.totalBytesOut)],
      ["by protocol", perProtocol || "none"],
      ["since", metrics.createdTime ? new Date(metrics.createdTime).toLocaleString() : ""],
    ];
    target.replaceChildren(
      ...items.map(([name, value]) =>
        el("div", { class: "stat" }, el("b", { text: value }), el("span", { text: name })),
      ),
    );
  }

  // --- the tree of vhosts and apps ---------------------------------------------------------

  async function refreshTree() {
    let vhosts;
    try {
      vhosts = (await get("v1/vhosts")).slice().sort();
      const apps = {};
      await Promise.all(
        vhosts.map(async (vhost) => {
          apps[vhost] = (await get(`v1/vhosts/${seg(vhost)}/apps`)).slice().sort();
        }),
      );
      const before = JSON.stringify([state.vhosts, state.apps]);
      state.vhosts = vhosts;
      state.apps = apps;
      if (state.vhost !== null && !vhosts.includes(state.vhost)) select(null, null);
      else if (state.app !== null && !(apps[state.vhost] || []).includes(state.app)) {
        select(state.vhost, null);
      }
      if (before !== JSON.stringify([vhosts, apps])) renderTree();
    } catch (err) {
      if (sessionStorage.getItem(TOKEN_KEY)) sayFailure(err);
    }
  }

  function renderTree() {
    const list = $("vhosts");
    list.replaceChildren(
      ...state.vhosts.map((vhost) => {
        const apps = el(
          "ul",
          {},
          ...(state.apps[vhost] || []).map((app) =>
            el(
              "li",
              {},
              el("button", {
                type: "button",
                class: vhost === state.vhost && app === state.app ? "selected" : "",
                "data-vhost": vhost,
                "data-app": app,
                text: app,
                onclick: () => select(vhost, app),
              }),
            ),
          ),
        );
        return el(
          "li",
          {},
          el("button", {
            type: "button",
            class: vhost === state.vhost && state.app === null ? "selected" : "",
            "data-vhost": vhost,
            text: vhost,
            onclick: () => select(vhost, null),
          }),
          apps,
        );
      }),
    );
  }

  // --- the detail panel --------------------------------------------------------------------

  function select(vhost, app) {
    state.vhost = vhost;
    state.app = app;
    state.generation += 1; // answers for an earlier selection are dropped
    renderTree();
    const detail = $("detail");
    detail.replaceChildren();
    detail.hidden = vhost === null;
    if (vhost === null) return;
    if (app === null) showVhost(detail, vhost, state.generation);
    else showApp(detail, vhost, app, state.generation);
    refreshLive();
  }

  async function showVhost(detail, vhost, generation) {
    const base = `v1/vhosts/${seg(vhost)}`;
    const config = el("pre", { id: "vhost-config", text: "…" });
    detail.append(
      el("h2", { id: "detail-title", text: `Virtual host ${vhost}` }),
      el("div", { id: "live-stats", class: "stats" }),
      el("h3", { text: "Configuration" }),
      config,
      editor(
        "app-create-json",
        "Create applications: a JSON array of applications",
        json([{ name: "app", type: "live" }]),
        "Create applications",
        (area) => change("Create applications", "POST", `${base}/apps`, area),
      ),
      el(
        "div",
        { class: "row" },
        dangerButton("Delete virtual host", "vhost-delete", () =>
          change(`Delete ${vhost}`, "DELETE", base),
        ),
      ),
    );
    try {
      const value = await get(base);
      if (generation === state.generation) config.textContent = json(value);
    } catch (err) {
      sayFailure(err);
    }
  }

  async function showApp(detail, vhost, app, generation) {
    const base = `v1/vhosts/${seg(vhost)}/apps/${seg(app)}`;
    const config = el("pre", { id: "app-config", text: "…" });
    const profiles = el("div", { id: "profiles" });
    detail.append(
      el("h2", { id: "detail-title", text: `Application ${vhost}/${app}` }),
      el("div", { id: "live-stats", class: "stats" }),
      el("h3", { text: "Streams" }),
      el(
        "table",
        { id: "streams" },
        el(
          "thead",
          {},
          el(
            "tr",
            {},
            ...["Stream", "Source", "Connections", "In", "Out", "Bytes in"].map((h, i) =>
              el("th", { text: h, class: i > 1 ? "num" : "" }),
            ),
          ),
        ),
        el("tbody", {}),
      ),
      el("h3", { text: "Configuration" }),
      config,
      editor(
        "app-patch-json",
        "Change the application: a JSON object merged into its configuration",
        json({ publishers: { appWorkerCount: 1 } }),
        "Patch application",
        (area) => change(`Patch ${app}`, "PATCH", base, area).then(() => reloadApp()),
      ),
      el(
        "div",
        { class: "row" },
        dangerButton("Delete application", "app-delete", () =>
          change(`Delete ${app}`, "DELETE", base),
        ),
      ),
      el("h3", { text: "Output profiles" }),
      profiles,
      editor(
        "profile-create-json",
        "Create output profiles: a JSON array of profiles",
        json([
          {
            name: "profile",
            outputStreamName: "${OriginStreamName}_p",
            encodes: { videos: [{ name: "video", bypass: true }] },
          },
        ]),
        "Create output profiles",
        (area) =>
          change("Create output profiles", "POST", `${base}/outputProfiles`, area).then(() =>
            reloadApp(),
          ),
      ),
    );

    async function reloadApp() {
      try {
        const [value, names] = await Promise.all([get(base), get(`${base}/outputProfiles`)]);
        if (generation !== state.generation) return;
        config.textContent = json(value);
        const byName = {};
        for (const profile of (value.outputProfiles || {}).outputProfile || []) {
          byName[profile.name] = profile;
        }
        profiles.replaceChildren(
          ...(names.length ? names : []).map((name) => profileEditor(base, name, byName[name])),
        );
        if (!names.length) profiles.append(el("p", { class: "muted", text: "No output profiles." }));
      } catch (err) {
        sayFailure(err);
      }
    }

    function profileEditor(appBase, name, profile) {
      const path = `${appBase}/outputProfiles/${seg(name)}`;
      const shown = Object.assign({}, profile || {});
      delete shown.name; // the API refuses "name" in a change: the path names the profile
      return el(
        "details",
        { class: "profile", "data-profile": name },
        el("summary", { text: name }),
        editor(
          `profile-patch-${name}`,
          "Replace the profile: a JSON object (without name)",
          json(shown),
          "Replace profile",
          (area) => change(`Replace ${name}`, "PATCH", path, area).then(() => reloadApp()),
        ),
        dangerButton("Delete profile", `profile-delete-${name}`, () =>
          change(`Delete ${name}`, "DELETE", path).then(() => reloadApp()),
        ),
      );
    }

    await reloadApp();
  }

  // --- live statistics ---------------------------------------------------------------------

  async function refreshLive() {
    const generation = state.generation;
    const { vhost, app } = state;
    const jobs = [
      get("v1/stats/current").then((metrics) => renderStats($("server-stats"), metrics)),
    ];
    if (vhost !== null) {
      const statsBase = `v1/stats/current/vhosts/${seg(vhost)}`;
      const path = app === null ? statsBase : `${statsBase}/apps/${seg(app)}`;
      jobs.push(
        get(path).then((metrics) => {
          const target = $("live-stats");
          if (generation === state.generation && target) renderStats(target, metrics);
        }),
      );
      if (app !== null) jobs.push(refreshStreams(vhost, app, generation));
    }
    try {
      await Promise.all(jobs);
      $("refreshed").textContent = `updated ${new Date().toLocaleTimeString()}`;
    } catch (err) {
      if (sessionStorage.getItem(TOKEN_KEY)) sayFailure(err);
    }
  }

  async function refreshStreams(vhost, app, generation) {
    const base = `v1/vhosts/${seg(vhost)}/apps/${seg(app)}/streams`;
    const statsBase = `v1/stats/current/vhosts/${seg(vhost)}/apps/${seg(app)}/streams`;
    const names = (await get(base)).slice().sort().slice(0, MAX_STREAMS);
    const rows = await Promise.all(
      names.map(async (name) => {
        try {
          const [info, metrics] = await Promise.all([
            get(`${base}/${seg(name)}`),
            get(`${statsBase}/${seg(name)}`),
          ]);
          return [name, (info.input || {}).sourceType || "", metrics];
        } catch (err) {
          return [name, "(gone)", {}]; // the stream ended between the two requests
        }
      }),
    );
    const body = document.querySelector("#streams tbody");
    if (generation !== state.generation || !body) return;
    body.replaceChildren(
      ...rows.map(([name, source, m]) =>
        el(
          "tr",
          { "data-stream": name },
          el("td", { text: name }),
          el("td", { text: source }),
          el("td", { class: "num", text: number.format(m.totalConnections || 0) }),
          el("td", { class: "num", text: bits(m.lastThroughputIn) }),
          el("td", { class: "num", text: bits(m.lastThroughputOut) }),
          el("td", { class: "num", text: bytes(m.totalBytesIn) }),
        ),
      ),
    );
    if (!rows.length) {
      body.append(el("tr", {}, el("td", { colspan: "6", class: "muted", text: "No streams." })));
    }
  }

  // --- logging in and out ------------------------------------------------------------------

  async function login(token) {
    // The version call checks the token before it is kept.
    const envelope = await call("GET", "v1/version", undefined, token);
    sessionStorage.setItem(TOKEN_KEY, token);
    const version = envelope.response || {};
    $("server-version").textContent = `OME API ${version.version || "?"} (${
      version.gitVersion || "?"
    })`;
    $("login").hidden = true;
    $("console").hidden = false;
    $("logout").hidden = false;
    say("", true);
    await refreshTree();
    select(state.vhost, state.app);
    poll(REFRESH_MS);
    follow(0, "");
  }

  function poll(every) {
    clearInterval(state.timer);
    state.timer = setInterval(() => {
      refreshTree();
      refreshLive();
    }, every);
  }

  // --- the event feed (GET x-omeapi/v1/events, Server-Sent Events) ----------------------------
  //
  // Read with fetch, not EventSource: the feed needs the Authorization header, which
  // EventSource cannot send.  Every event refreshes what it may have changed; when the feed
  // is unavailable (an older server, a token without it) the console just keeps polling.

  let pending = null;

  function changed() {
    // Events come in bursts (a change, its restart, its streams): one refresh for a burst.
    if (pending !== null) return;
    pending = setTimeout(() => {
      pending = null;
      refreshTree();
      refreshLive();
    }, 200);
  }

  async function follow(attempt, lastId) {
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (!token) return;
    const controller = new AbortController();
    state.feed = controller;
    const headers = { Authorization: basic(token), Accept: "text/event-stream" };
    if (lastId) headers["Last-Event-ID"] = lastId;
    let last = lastId;
    try {
      const response = await fetch(new URL(FEED_PATH, API_ROOT), {
        headers,
        cache: "no-store",
        credentials: "omit",
        signal: controller.signal,
      });
      if (!response.ok || !response.body) return; // no feed here: polling it is
      poll(REFRESH_FED_MS);
      attempt = 0;
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffered = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffered += value;
        let end;
        while ((end = buffered.indexOf("\n\n")) >= 0) {
          const block = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          let data = false;
          for (const line of block.split("\n")) {
            if (line.startsWith("id:")) last = line.slice(3).trim();
            if (line.startsWith("data:")) data = true;
          }
          if (data) changed();
        }
      }
    } catch (err) {
      if (controller.signal.aborted) return; // logged out
    } finally {
      if (state.feed === controller) state.feed = null;
    }
    if (controller.signal.aborted || !sessionStorage.getItem(TOKEN_KEY)) return;
    // Dropped (the server restarted, the reader was too slow): poll, and come back later.
    poll(REFRESH_MS);
    const wait = Math.min(30000, 1000 * 2 ** Math.min(attempt, 5));
    setTimeout(() => follow(attempt + 1, last), wait);
  }

  function logout(reason) {
    sessionStorage.removeItem(TOKEN_KEY);
    clearInterval(state.timer);
    state.timer = null;
    if (state.feed !== null) state.feed.abort();
    state.feed = null;
    state.vhost = state.app = null;
    state.vhosts = [];
    state.apps = {};
    $("console").hidden = true;
    $("logout").hidden = true;
    $("login").hidden = false;
    $("server-version").textContent = "";
    $("refreshed").textContent = "";
    $("login-error").textContent = reason || "";
    $("token").value = "";
    $("token").focus();
  }

  function start() {
    $("vhost-create-json").value = json([{ name: "vhost", host: { names: ["*"] } }]);
    $("vhost-create-send").addEventListener("click", () =>
      change("Create virtual hosts", "POST", "v1/vhosts", $("vhost-create-json")),
    );
    $("logout").addEventListener("click", () => logout(""));
    $("login-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      $("login-error").textContent = "";
      try {
        await login($("token").value);
      } catch (err) {
        $("login-error").textContent = err instanceof ApiFailure ? err.message : String(err);
      }
    });
    const kept = sessionStorage.getItem(TOKEN_KEY);
    if (kept) {
      login(kept).catch((err) => logout(err.message));
    } else {
      logout("");
    }
  }

  start();
})();
