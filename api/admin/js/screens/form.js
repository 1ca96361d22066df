// メールサーバーの追加 / メールサーバーの変更 (Add / Change mail server): the settings form.
// Operations: query mailServer(id) (change), mutation addMailServer, mutation changeMailServer.
import { ERRORS, gql, SERVER_FIELDS } from "../api.js";
import { h, randomKey } from "../dom.js";
import { t } from "../i18n.js";
import { authLabel, heading, PROVIDERS } from "./common.js";

const GET = `${SERVER_FIELDS}
query Server($id: ID!) { mailServer(id: $id) { ...ServerFields } }`;
const ADD = `${SERVER_FIELDS}
mutation Add($input: AddMailServerInput!) { addMailServer(input: $input) { server { ...ServerFields } ${ERRORS} } }`;
const CHANGE = `${SERVER_FIELDS}
mutation Change($input: ChangeMailServerInput!) { changeMailServer(input: $input) { server { ...ServerFields } ${ERRORS} } }`;

// The providers' settings, as the contract fixes them; shown (disabled) while OAuth is on.
const PRESETS = {
  GOOGLE: {
    out: { host: "smtp.gmail.com", port: 465, encryption: "TLS" },
    POP3: { host: "pop.gmail.com", port: 995 },
    IMAP4: { host: "imap.gmail.com", port: 993 },
  },
  MICROSOFT: {
    out: { host: "smtp.office365.com", port: 587, encryption: "STARTTLS" },
    POP3: { host: "outlook.office365.com", port: 995 },
    IMAP4: { host: "outlook.office365.com", port: 993 },
  },
};
const AUTH_METHODS = ["NONE", "PLAIN", "LOGIN", "CRAM_MD5", "DIGEST_MD5"];
const TIMEOUTS = Array.from({ length: 12 }, (_, i) => (i + 1) * 10);
const MAX_INT = 2147483647;

function blank() {
  return {
    code: "",
    name: "",
    oauth: false,
    provider: "GOOGLE",
    out: { host: "", port: "", encryption: "NONE", authMethod: "NONE", credentials: "SENDING_ACCOUNT", timeout: 60 },
    inc: { protocol: "POP3", host: "", port: "", useTls: false, useApop: false, timeout: 60 },
  };
}

function fromServer(server) {
  const oauth = Boolean(server.oauthProvider);
  const out = server.outgoing;
  const inc = server.incoming;
  return {
    code: server.code,
    name: server.name,
    oauth,
    provider: server.oauthProvider || "GOOGLE",
    // An OAuth server's manual fields start empty: its hosts are the provider's, not typed ones.
    out: {
      host: oauth ? "" : out.host,
      port: oauth ? "" : String(out.port),
      encryption: oauth ? "NONE" : out.encryption,
      authMethod: oauth ? "NONE" : out.authMethod,
      credentials: out.credentials || "SENDING_ACCOUNT",
      timeout: out.timeoutSeconds,
    },
    inc: {
      protocol: inc.protocol,
      host: oauth ? "" : inc.host,
      port: oauth ? "" : String(inc.port),
      useTls: oauth ? false : inc.useTls,
      useApop: inc.useApop,
      timeout: inc.timeoutSeconds,
    },
  };
}

export function formScreen(ctx, [id]) {
  const changing = Boolean(id);
  let server = null;
  let state = blank();
  let errors = {}; // field path ("outgoing.port") or "" (the whole input) -> messages
  let conflict = false;
  let stale = false;
  let busy = false;
  let key = randomKey();

  async function fetchServer() {
    const found = (await gql(GET, { id })).mailServer;
    if (!found) throw new Error(t("error.notFound"));
    return found;
  }

  async function reloadValues() {
    try {
      server = await fetchServer();
    } catch (error) {
      ctx.fail(error);
      return;
    }
    state = fromServer(server);
    errors = {};
    conflict = false;
    stale = false;
    ctx.redraw();
    document.getElementById("code")?.focus();
  }

  function portValue(path, text) {
    const trimmed = String(text).trim();
    if (trimmed === "" && changing) {
      // In a change, a missing port would mean "leave it as it is"; an emptied field means a mistake.
      (errors[path] ||= []).push(t("error.required"));
      return undefined;
    }
    if (trimmed === "") return null;
    if (!/^\d+$/.test(trimmed) || Number(trimmed) > MAX_INT) {
      (errors[path] ||= []).push(t("error.number"));
      return undefined;
    }
    return Number(trimmed);
  }

  function desired() {
    const s = state;
    const outgoing = { timeoutSeconds: Number(s.out.timeout) };
    const incoming = { protocol: s.inc.protocol, timeoutSeconds: Number(s.inc.timeout) };
    if (!s.oauth) {
      Object.assign(outgoing, {
        host: s.out.host,
        port: portValue("outgoing.port", s.out.port),
        encryption: s.out.encryption,
        authMethod: s.out.authMethod,
        credentials: s.out.authMethod === "NONE" ? undefined : s.out.credentials,
      });
      Object.assign(incoming, {
        host: s.inc.host,
        port: portValue("incoming.port", s.inc.port),
        useTls: s.inc.useTls,
        useApop: s.inc.protocol === "POP3" ? s.inc.useApop : false,
      });
    }
    return { code: s.code, name: s.name, oauthProvider: s.oauth ? s.provider : null, outgoing, incoming };
  }

  /** Only what differs from the server as loaded: a partial change, guarded by its version. */
  function changeInput(want) {
    const input = { id: server.id, expectedVersion: server.version, idempotencyKey: key };
    if (want.code !== server.code) input.code = want.code;
    if (want.name !== server.name) input.name = want.name;
    const turningOff = server.oauthProvider && !want.oauthProvider;
    if (want.oauthProvider !== server.oauthProvider) input.oauthProvider = want.oauthProvider;
    const diff = (wanted, had) => {
      const out = {};
      for (const [field, value] of Object.entries(wanted)) {
        if (value === undefined) continue;
        if (turningOff || value !== had[field]) out[field] = value;
      }
      return out;
    };
    const outgoing = diff(want.outgoing, server.outgoing);
    if (outgoing.authMethod && want.outgoing.credentials) outgoing.credentials = want.outgoing.credentials;
    const incoming = diff(want.incoming, server.incoming);
    if (want.incoming.protocol === "IMAP4") delete incoming.useApop; // the server clears APOP itself
    if (Object.keys(incoming).length && !incoming.protocol) incoming.protocol = want.incoming.protocol;
    if (Object.keys(outgoing).length) input.outgoing = outgoing;
    if (Object.keys(incoming).length) input.incoming = incoming;
    return input;
  }

  async function submit(event) {
    event.preventDefault();
    if (busy) return;
    errors = {};
    const want = desired();
    if (Object.keys(errors).length) return showErrors();
    busy = true;
    let payload;
    try {
      payload = changing
        ? (await gql(CHANGE, { input: changeInput(want) })).changeMailServer
        : (await gql(ADD, { input: { ...want, idempotencyKey: key } })).addMailServer;
    } catch (error) {
      busy = false;
      ctx.fail(error);
      return;
    }
    busy = false;
    if (payload.errors.length) {
      key = randomKey(); // a failed attempt is not remembered by the server; the next is a new request
      for (const error of payload.errors) {
        if (error.code === "VERSION_CONFLICT") {
          conflict = true;
          continue;
        }
        const path = (error.field || []).join(".");
        const target = path in FIELD_IDS ? path : "";
        (errors[target] ||= []).push(error.message);
      }
      return showErrors();
    }
    const saved = payload.server;
    ctx.flash(t(changing ? "form.changed" : "form.added", { name: saved.name }));
    ctx.go(changing ? `#/servers/${saved.id}` : "#/");
  }

  function showErrors() {
    ctx.redraw();
    const first = Object.keys(FIELD_IDS).find((path) => errors[path] && document.getElementById(FIELD_IDS[path]));
    const target = conflict ? document.getElementById("conflict-reload") : first && document.getElementById(FIELD_IDS[first]);
    (target || document.getElementById("form-errors"))?.focus();
  }

  const set = (apply, structural = false) => (event) => {
    apply(event.target);
    if (structural) ctx.redraw();
  };

  // --- building blocks

  let shown = new Set();

  function errorFor(path) {
    const list = errors[path];
    if (!list || !list.length) return null;
    shown.add(path);
    return h("p", { id: `err-${path.replace(".", "-")}`, class: "field-error" }, list.join(" "));
  }

  function describe(path) {
    return errors[path]?.length ? { "aria-invalid": "true", "aria-describedby": `err-${path.replace(".", "-")}` } : {};
  }

  function text(id, path, label, value, onInput, { disabled = false, numeric = false, wide = false } = {}) {
    return h(
      "div",
      { class: `field${wide ? " wide" : ""}` },
      h("label", { for: id }, label),
      h("input", {
        id,
        name: id,
        type: "text",
        value,
        disabled,
        inputmode: numeric ? "numeric" : null,
        autocomplete: "off",
        spellcheck: "false",
        class: numeric ? "short" : null,
        oninput: (event) => onInput(event.target.value),
        ...describe(path),
      }),
      errorFor(path),
    );
  }

  function select(id, path, label, value, options, onChange, { disabled = false } = {}) {
    return h(
      "div",
      { class: "field" },
      h("label", { for: id }, label),
      h(
        "select",
        { id, name: id, disabled, onchange: (event) => onChange(event.target.value), ...describe(path) },
        options.map(([optionValue, optionLabel]) =>
          h("option", { value: optionValue, selected: String(optionValue) === String(value) }, optionLabel),
        ),
      ),
      errorFor(path),
    );
  }

  function radios(name, path, legend, value, options, onChange, { disabled = false } = {}) {
    const invalid = errors[path]?.length;
    return h(
      "fieldset",
      { class: "radios", "aria-describedby": invalid ? `err-${path.replace(".", "-")}` : null },
      h("legend", {}, legend),
      h(
        "div",
        { class: "choices" },
        options.map(([optionValue, optionLabel]) => {
          const id = `${name}-${String(optionValue).toLowerCase()}`;
          return h(
            "label",
            { class: "choice", for: id },
            h("input", {
              id,
              type: "radio",
              name,
              value: String(optionValue),
              checked: String(optionValue) === String(value),
              disabled,
              onchange: () => onChange(optionValue),
              ...describe(path),
            }),
            h("span", {}, optionLabel),
          );
        }),
      ),
      errorFor(path),
    );
  }

  function checkbox(id, path, label, checked, onChange, { disabled = false } = {}) {
    return h(
      "div",
      { class: "field check" },
      h(
        "label",
        { class: "choice", for: id },
        h("input", { id, type: "checkbox", checked, disabled, onchange: (e) => onChange(e.target.checked), ...describe(path) }),
        h("span", {}, label),
      ),
      errorFor(path),
    );
  }

  function timeouts(current) {
    const values = TIMEOUTS.includes(Number(current)) ? TIMEOUTS : [...TIMEOUTS, Number(current)].sort((a, b) => a - b);
    return values.map((n) => [n, t("f.seconds", { n })]);
  }

  function view() {
    const s = state;
    const preset = s.oauth ? PRESETS[s.provider] : null;
    const out = preset ? { ...preset.out, authMethod: "XOAUTH2" } : s.out;
    const inc = preset ? { ...preset[s.inc.protocol], useTls: true } : s.inc;
    shown = new Set();
    const form = buildForm(s, out, inc);
    // Errors for fields not on screen (e.g. a hidden group) join the summary, so none is lost.
    const whole = Object.entries(errors)
      .filter(([path]) => !shown.has(path))
      .flatMap(([, messages]) => messages);
    const banners = [];
    if (conflict || stale) {
      banners.push(
        h(
          "div",
          { class: "alert warning", role: conflict ? "alert" : "status" },
          h("p", {}, t(conflict ? "form.conflict" : "form.staleLive")),
          h("button", { type: "button", id: "conflict-reload", onclick: reloadValues }, t("form.reload")),
        ),
      );
    }
    if (whole?.length || Object.keys(errors).length) {
      banners.push(
        h(
          "div",
          { id: "form-errors", class: "alert error", tabindex: "-1" },
          h("p", {}, t("error.summary")),
          whole?.length ? h("ul", {}, whole.map((message) => h("li", {}, message))) : null,
        ),
      );
    }
    return h("section", {}, heading(t(changing ? "form.changeTitle" : "form.addTitle")), banners, form);
  }

  function buildForm(s, out, inc) {
    return h(
        "form",
        { class: "card form", novalidate: true, onsubmit: submit },
        h(
          "div",
          { class: "row" },
          text("code", "code", t("f.code"), s.code, (v) => (s.code = v)),
          text("name", "name", t("f.name"), s.name, (v) => (s.name = v), { wide: true }),
        ),
        h(
          "fieldset",
          { class: "group" },
          h("legend", {}, t("f.oauthGroup")),
          h(
            "div",
            { class: "row" },
            checkbox("use-oauth", "oauthProvider", t("f.useOauth"), s.oauth, (on) => {
              s.oauth = on;
              ctx.redraw();
            }),
            select(
              "oauth-client",
              "oauthProvider.client",
              t("f.oauthClient"),
              s.provider,
              Object.entries(PROVIDERS),
              (v) => {
                s.provider = v;
                ctx.redraw();
              },
              { disabled: !s.oauth },
            ),
          ),
          s.oauth ? h("p", { class: "hint" }, t("f.oauthHint")) : null,
        ),
        h(
          "fieldset",
          { class: "group" },
          h("legend", {}, t("f.outGroup")),
          h(
            "div",
            { class: "row" },
            text("out-host", "outgoing.host", t("f.outHost"), out.host, (v) => (s.out.host = v), {
              disabled: s.oauth,
              wide: true,
            }),
            text("out-port", "outgoing.port", t("f.outPort"), String(out.port), (v) => (s.out.port = v), {
              disabled: s.oauth,
              numeric: true,
            }),
          ),
          radios(
            "enc",
            "outgoing.encryption",
            t("f.encGroup"),
            out.encryption,
            ["NONE", "TLS", "STARTTLS"].map((v) => [v, t(`f.enc.${v}`)]),
            (v) => (s.out.encryption = v),
            { disabled: s.oauth },
          ),
          h(
            "div",
            { class: "row" },
            select(
              "out-auth",
              "outgoing.authMethod",
              t("f.auth"),
              out.authMethod,
              (s.oauth ? ["XOAUTH2"] : AUTH_METHODS).map((v) => [v, authLabel(v)]),
              (v) => {
                s.out.authMethod = v;
                ctx.redraw();
              },
              { disabled: s.oauth },
            ),
            select("out-timeout", "outgoing.timeoutSeconds", t("f.timeout"), s.out.timeout, timeouts(s.out.timeout), (v) => {
              s.out.timeout = Number(v);
            }),
          ),
          !s.oauth && s.out.authMethod !== "NONE"
            ? radios(
                "cred",
                "outgoing.credentials",
                t("f.credGroup"),
                s.out.credentials,
                ["SENDING_ACCOUNT", "RECEIVING_ACCOUNT"].map((v) => [v, t(`f.cred.${v}`)]),
                (v) => (s.out.credentials = v),
              )
            : null,
        ),
        h(
          "fieldset",
          { class: "group" },
          h("legend", {}, t("f.inGroup")),
          radios(
            "proto",
            "incoming.protocol",
            t("f.protoGroup"),
            s.inc.protocol,
            [
              ["POP3", "POP3"],
              ["IMAP4", "IMAP4"],
            ],
            (v) => {
              s.inc.protocol = v;
              ctx.redraw();
            },
          ),
          h(
            "div",
            { class: "row" },
            text("in-host", "incoming.host", t("f.inHost"), inc.host, (v) => (s.inc.host = v), {
              disabled: s.oauth,
              wide: true,
            }),
            text("in-port", "incoming.port", t("f.inPort"), String(inc.port), (v) => (s.inc.port = v), {
              disabled: s.oauth,
              numeric: true,
            }),
          ),
          checkbox("in-tls", "incoming.useTls", t("f.inTls"), inc.useTls, (on) => (s.inc.useTls = on), {
            disabled: s.oauth,
          }),
          !s.oauth && s.inc.protocol === "POP3"
            ? radios(
                "apop",
                "incoming.useApop",
                t("f.apopGroup"),
                s.inc.useApop,
                [
                  [true, t("f.apop.true")],
                  [false, t("f.apop.false")],
                ],
                (v) => (s.inc.useApop = v),
              )
            : null,
          h(
            "div",
            { class: "row" },
            select("in-timeout", "incoming.timeoutSeconds", t("f.timeout"), s.inc.timeout, timeouts(s.inc.timeout), (v) => {
              s.inc.timeout = Number(v);
            }),
          ),
        ),
        h(
          "div",
          { class: "actions" },
          h("button", { type: "submit", class: "primary" }, t(changing ? "form.change" : "form.add")),
          h("a", { class: "button", href: changing ? `#/servers/${id}` : "#/" }, t("form.cancel")),
        ),
      );
  }

  return {
    title: () => t(changing ? "form.changeTitle" : "form.addTitle"),
    async load() {
      if (!changing) return;
      server = await fetchServer();
      state = fromServer(server);
    },
    onEvent(event) {
      if (changing && event.streamId === id && !stale) {
        stale = true;
        ctx.redraw();
      }
      return false;
    },
    view,
  };
}

// Where each error path is shown: the id of the control that gets aria-invalid.
const FIELD_IDS = {
  code: "code",
  name: "name",
  oauthProvider: "use-oauth",
  "outgoing.host": "out-host",
  "outgoing.port": "out-port",
  "outgoing.encryption": "enc-none",
  "outgoing.authMethod": "out-auth",
  "outgoing.credentials": "cred-sending_account",
  "outgoing.timeoutSeconds": "out-timeout",
  "incoming.protocol": "proto-pop3",
  "incoming.host": "in-host",
  "incoming.port": "in-port",
  "incoming.useTls": "in-tls",
  "incoming.useApop": "apop-true",
  "incoming.timeoutSeconds": "in-timeout",
};
