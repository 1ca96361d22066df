// メールサーバーの詳細 / Mail server details: every setting, the actions, a connection check and
// this server's history. Operations: query mailServer(id), query events(filter: {streamId}, last:),
// mutation verifyMailServer.
import { ERRORS, EVENT_FIELDS, gql, SERVER_FIELDS } from "../api.js";
import { h } from "../dom.js";
import { t, when } from "../i18n.js";
import { authLabel, fieldName, heading, hostPort, oauthBadge, PROVIDERS, valueText } from "./common.js";

const QUERY = `${SERVER_FIELDS}
${EVENT_FIELDS}
query Detail($id: ID!) {
  mailServer(id: $id) { ...ServerFields }
  events(filter: {streamId: $id}, last: 200) { edges { node { ...EventFields } } }
}`;

const VERIFY = `
fragment Endpoint on EndpointVerification {
  host port status tlsVersion capabilities elapsedMs findings { code status message }
}
mutation Verify($input: VerifyMailServerInput!) {
  verifyMailServer(input: $input) { status outgoing { ...Endpoint } incoming { ...Endpoint } ${ERRORS} }
}`;

export function detailScreen(ctx, [id]) {
  let server = null;
  let events = [];
  let verification = null; // {running} | payload | {errors}
  const typed = { username: "", password: "", sendingUsername: "", sendingPassword: "" };

  async function verify(event) {
    event.preventDefault();
    verification = { running: true };
    ctx.redraw();
    const credentials = typed.username
      ? {
          username: typed.username,
          password: typed.password,
          ...(typed.sendingUsername ? { sendingUsername: typed.sendingUsername, sendingPassword: typed.sendingPassword } : {}),
        }
      : null;
    try {
      verification = (await gql(VERIFY, { input: { id, credentials } })).verifyMailServer;
    } catch (error) {
      verification = null;
      ctx.fail(error);
    }
    ctx.redraw();
    document.getElementById("verify-result")?.focus();
  }

  function setting(label, value) {
    return [h("dt", {}, label), h("dd", {}, value)];
  }

  function settings() {
    const out = server.outgoing;
    const inc = server.incoming;
    return h(
      "div",
      { class: "panels" },
      h(
        "section",
        { class: "card panel" },
        h("h2", {}, t("detail.general")),
        h(
          "dl",
          {},
          setting(t("f.code"), h("code", {}, server.code)),
          setting(t("f.name"), server.name),
          setting(t("f.oauthClient"), server.oauthProvider ? oauthBadge(server.oauthProvider) : t("detail.none")),
          setting(t("col.position"), server.position),
          setting(t("detail.updated"), when(server.updatedAt)),
          setting(t("detail.version"), server.version),
        ),
      ),
      h(
        "section",
        { class: "card panel" },
        h("h2", {}, t("f.outGroup")),
        h(
          "dl",
          {},
          setting(t("f.outHost"), h("span", { class: "mono" }, out.host)),
          setting(t("f.outPort"), out.port),
          setting(t("f.encGroup"), t(`f.enc.${out.encryption}`)),
          setting(t("f.auth"), authLabel(out.authMethod)),
          out.credentials ? setting(t("f.credGroup"), t(`f.cred.${out.credentials}`)) : null,
          setting(t("f.timeout"), t("f.seconds", { n: out.timeoutSeconds })),
        ),
      ),
      h(
        "section",
        { class: "card panel" },
        h("h2", {}, t("f.inGroup")),
        h(
          "dl",
          {},
          setting(t("f.protoGroup"), inc.protocol),
          setting(t("f.inHost"), h("span", { class: "mono" }, inc.host)),
          setting(t("f.inPort"), inc.port),
          setting(t("f.inTls"), t(inc.useTls ? "detail.yes" : "detail.no")),
          inc.protocol === "POP3" && !server.oauthProvider ? setting(t("f.apopGroup"), t(`f.apop.${inc.useApop}`)) : null,
          setting(t("f.timeout"), t("f.seconds", { n: inc.timeoutSeconds })),
        ),
      ),
    );
  }

  function input(id, label, key, type = "text") {
    return h(
      "div",
      { class: "field" },
      h("label", { for: id }, label),
      h("input", { id, type, autocomplete: "off", value: typed[key], oninput: (e) => (typed[key] = e.target.value) }),
    );
  }

  function verifyPanel() {
    const result = verification && !verification.running ? verificationResult(verification) : null;
    return h(
      "section",
      { class: "card", "aria-labelledby": "verify-title" },
      h("h2", { id: "verify-title" }, t("verify.title")),
      h("p", { class: "muted" }, t("verify.intro")),
      h(
        "form",
        { onsubmit: verify, novalidate: true },
        h(
          "div",
          { class: "row" },
          input("verify-username", t("verify.username"), "username"),
          input("verify-password", t("verify.password"), "password", "password"),
          server.outgoing.credentials === "SENDING_ACCOUNT"
            ? [
                input("verify-sending-username", t("verify.sendingUsername"), "sendingUsername"),
                input("verify-sending-password", t("verify.sendingPassword"), "sendingPassword", "password"),
              ]
            : null,
        ),
        h(
          "div",
          { class: "actions" },
          h("button", { type: "submit", disabled: verification?.running }, t("detail.verify")),
          verification?.running ? h("span", { class: "muted", role: "status" }, t("verify.running")) : null,
        ),
      ),
      result,
    );
  }

  function verificationResult(payload) {
    if (payload.errors?.length) {
      return h(
        "div",
        { id: "verify-result", class: "alert error", tabindex: "-1", role: "alert" },
        payload.errors.map((e) => h("p", {}, e.message)),
      );
    }
    const endpoint = (title, e) =>
      h(
        "div",
        { class: "endpoint" },
        h(
          "h3",
          {},
          `${title} `,
          h("span", { class: "mono" }, hostPort(e.host, e.port)),
          " ",
          statusBadge(e.status),
        ),
        h(
          "p",
          { class: "muted" },
          [e.tlsVersion, t("verify.elapsed", { ms: e.elapsedMs })].filter(Boolean).join(" · "),
        ),
        h(
          "ul",
          { class: "findings" },
          e.findings.map((f) => h("li", { class: `finding ${f.status.toLowerCase()}` }, statusBadge(f.status), " ", f.message)),
        ),
      );
    return h(
      "div",
      { id: "verify-result", class: "verify-result", tabindex: "-1", role: "status" },
      h("p", { class: "overall" }, h("strong", {}, t("verify.overall")), " ", statusBadge(payload.status)),
      h("div", { class: "endpoints" }, endpoint(t("verify.outgoing"), payload.outgoing), endpoint(t("verify.incoming"), payload.incoming)),
    );
  }

  return {
    title: () => t("detail.title"),
    async load() {
      const data = await gql(QUERY, { id });
      if (!data.mailServer) throw new Error(t("error.notFound"));
      server = data.mailServer;
      events = data.events.edges.map((edge) => edge.node).reverse();
    },
    onEvent: (event) => event.streamId === id || event.type === "AllServersDeleted" || event.type === "ServersReordered",
    view() {
      return h(
        "section",
        {},
        heading(
          t("detail.title"),
          h("a", { class: "button primary", href: `#/servers/${id}/edit` }, t("detail.change")),
          h("a", { class: "button danger-outline", href: `#/servers/${id}/delete` }, t("detail.delete")),
        ),
        h("p", { class: "subtitle" }, h("code", {}, server.code), " ", server.name, " ", oauthBadge(server.oauthProvider)),
        settings(),
        verifyPanel(),
        h(
          "section",
          { class: "card", "aria-labelledby": "history-title" },
          h("h2", { id: "history-title" }, t("detail.history")),
          events.length ? historyTable(events, id) : h("p", { class: "muted" }, t("detail.noHistory")),
        ),
      );
    },
  };
}

export function statusBadge(status) {
  return status ? h("span", { class: `status status-${status.toLowerCase()}` }, t(`verify.status.${status}`)) : null;
}

/** Who, when, what and which field changed from what to what; newest first. */
export function historyTable(events, serverId) {
  return h(
    "table",
    { class: "history" },
    h(
      "thead",
      {},
      h("tr", {}, ["history.when", "history.who", "history.what", "history.changes"].map((k) => h("th", { scope: "col" }, t(k)))),
    ),
    h(
      "tbody",
      {},
      events.map((e) =>
        h(
          "tr",
          {},
          h("td", { "data-label": t("history.when") }, h("time", { datetime: e.occurredAt }, when(e.occurredAt))),
          h("td", { "data-label": t("history.who") }, e.actor),
          h("td", { "data-label": t("history.what") }, h("span", { class: `ev ev-${e.type}` }, t(`ev.${e.type}`))),
          h("td", { "data-label": t("history.changes") }, changesOf(e, serverId)),
        ),
      ),
    ),
  );
}

/** The body of one event as people read it; a reorder as the place of `serverId` before → after. */
export function changesOf(e, serverId = null) {
  if (e.type === "ServerChanged") {
    return h(
      "ul",
      { class: "changes" },
      e.changes.map((c) =>
        h(
          "li",
          {},
          h("span", { class: "field-name" }, fieldName(c.field)),
          ": ",
          h("del", {}, valueText(c.field, c.before)),
          " → ",
          h("ins", {}, valueText(c.field, c.after)),
        ),
      ),
    );
  }
  if (e.type === "ServerAdded") return h("span", {}, h("code", {}, e.server.code), " ", e.server.name);
  if (e.type === "ServerDeleted") return h("span", {}, h("code", {}, e.code), " ", e.name);
  if (e.type === "AllServersDeleted") return t("history.deletedN", { n: e.deletedIds.length });
  if (e.type === "ServersReordered" && serverId) {
    return h(
      "span",
      {},
      h("span", { class: "field-name" }, t("col.position")),
      ": ",
      h("del", {}, e.before.indexOf(serverId) + 1),
      " → ",
      h("ins", {}, e.after.indexOf(serverId) + 1),
    );
  }
  return null;
}

export { PROVIDERS };
