// 変更履歴 / Change history: the global log newest first, filtered by event type and server, with
// 復元する (restore the list as it was just after an event). Operations: query events(filter:, last:,
// before:), query mailServers (names for the filter), mutation restoreMailServers.
import { ERRORS, EVENT_FIELDS, gql } from "../api.js";
import { h } from "../dom.js";
import { t, when } from "../i18n.js";
import { heading } from "./common.js";
import { changesOf } from "./detail.js";

const PAGE = 50;
const QUERY = `${EVENT_FIELDS}
query History($filter: EventFilter, $last: Int!, $before: String) {
  events(filter: $filter, last: $last, before: $before) {
    edges { node { ...EventFields } }
    pageInfo { hasPreviousPage startCursor }
  }
  mailServers { items { id code name } }
}`;
const RESTORE = `mutation Restore($input: RestoreMailServersInput!) {
  restoreMailServers(input: $input) { list { totalCount } ${ERRORS} }
}`;
const TYPES = ["ServerAdded", "ServerChanged", "ServersReordered", "ServerDeleted", "AllServersDeleted"];

export function historyScreen(ctx) {
  const filter = { type: "", server: "" };
  let events = []; // newest first
  let more = false;
  let oldest = null;
  const names = new Map(); // server id -> {code, name}, live or seen in the log
  // Filters can change faster than answers come back: only the newest request may fill the table.
  let generation = 0;

  function variables(last, before = null) {
    const f = {};
    if (filter.type) f.types = [filter.type];
    if (filter.server) f.streamId = filter.server;
    return { filter: f, last, before };
  }

  function learn(data) {
    for (const s of data.mailServers.items) names.set(s.id, s);
    for (const { node } of data.events.edges) {
      if (node.type === "ServerAdded" && !names.has(node.streamId)) names.set(node.streamId, node.server);
      if (node.type === "ServerDeleted" && !names.has(node.streamId)) names.set(node.streamId, node);
    }
  }

  async function load() {
    const mine = ++generation;
    const size = Math.min(500, Math.max(PAGE, events.length));
    const data = await gql(QUERY, variables(size));
    if (mine !== generation) return;
    learn(data);
    events = data.events.edges.map((e) => e.node).reverse();
    more = data.events.pageInfo.hasPreviousPage;
    oldest = data.events.pageInfo.startCursor;
  }

  async function older() {
    const mine = generation;
    try {
      const data = await gql(QUERY, variables(PAGE, oldest));
      if (mine !== generation) return;
      learn(data);
      events = events.concat(data.events.edges.map((e) => e.node).reverse());
      more = data.events.pageInfo.hasPreviousPage;
      oldest = data.events.pageInfo.startCursor;
    } catch (error) {
      ctx.fail(error);
      return;
    }
    ctx.redraw();
  }

  async function refilter() {
    events = [];
    try {
      await load();
    } catch (error) {
      ctx.fail(error);
      return;
    }
    ctx.redraw();
  }

  function confirmRestore(event) {
    const what = t(`ev.${event.type}`);
    const dialog = h(
      "dialog",
      { class: "card dialog", "aria-labelledby": "restore-question" },
      h("p", { id: "restore-question" }, t("history.restoreQuestion", { when: when(event.occurredAt), what })),
      h(
        "div",
        { class: "actions" },
        h(
          "button",
          {
            type: "button",
            class: "primary",
            onclick: async () => {
              dialog.close();
              dialog.remove();
              await restore(event);
            },
          },
          t("yes"),
        ),
        h("button", { type: "button", onclick: () => dialog.close() }, t("no")),
      ),
    );
    dialog.addEventListener("close", () => dialog.remove());
    document.body.append(dialog);
    dialog.showModal();
  }

  async function restore(event) {
    let payload;
    try {
      payload = (await gql(RESTORE, { input: { asOf: event.position } })).restoreMailServers;
    } catch (error) {
      ctx.fail(error);
      return;
    }
    if (payload.errors.length) {
      ctx.fail(new Error(payload.errors.map((e) => e.message).join(" ")));
      return;
    }
    ctx.flash(t("history.restored", { when: when(event.occurredAt) }));
    ctx.go("#/");
  }

  function target(e) {
    if (e.type === "ServersReordered" || e.type === "AllServersDeleted") return h("span", { class: "muted" }, t("history.list"));
    const known = names.get(e.streamId);
    return known ? h("span", {}, h("code", {}, known.code)) : h("span", { class: "mono muted" }, e.streamId.slice(0, 8));
  }

  function body(e) {
    if (e.type === "ServersReordered") {
      const code = (id) => names.get(id)?.code || id.slice(0, 8);
      return h("span", { class: "order" }, `${t("history.order")}: `, e.after.map(code).join(" → "));
    }
    return changesOf(e);
  }

  function filters() {
    const servers = [...names.entries()].sort((a, b) => a[1].code.localeCompare(b[1].code));
    return h(
      "fieldset",
      { class: "filters card" },
      h("legend", {}, t("history.filters")),
      h(
        "div",
        { class: "field" },
        h("label", { for: "filter-type" }, t("history.type")),
        h(
          "select",
          {
            id: "filter-type",
            onchange: (e) => {
              filter.type = e.target.value;
              refilter();
            },
          },
          h("option", { value: "" }, t("history.all")),
          TYPES.map((type) => h("option", { value: type, selected: filter.type === type }, t(`ev.${type}`))),
        ),
      ),
      h(
        "div",
        { class: "field" },
        h("label", { for: "filter-server" }, t("history.server")),
        h(
          "select",
          {
            id: "filter-server",
            onchange: (e) => {
              filter.server = e.target.value;
              refilter();
            },
          },
          h("option", { value: "" }, t("history.all")),
          servers.map(([id, s]) => h("option", { value: id, selected: filter.server === id }, `${s.code} — ${s.name}`)),
        ),
      ),
    );
  }

  return {
    title: () => t("history.title"),
    load,
    onEvent: () => true,
    view() {
      return h(
        "section",
        {},
        heading(t("history.title")),
        filters(),
        events.length
          ? h(
              "table",
              { class: "history global" },
              h(
                "thead",
                {},
                h(
                  "tr",
                  {},
                  ["history.when", "history.who", "history.what", "history.target", "history.changes", null].map((k) =>
                    h("th", { scope: "col" }, k ? t(k) : ""),
                  ),
                ),
              ),
              h(
                "tbody",
                {},
                events.map((e) =>
                  h(
                    "tr",
                    { dataset: { position: e.position } },
                    h("td", { "data-label": t("history.when") }, h("time", { datetime: e.occurredAt }, when(e.occurredAt))),
                    h("td", { "data-label": t("history.who") }, e.actor),
                    h("td", { "data-label": t("history.what") }, h("span", { class: `ev ev-${e.type}` }, t(`ev.${e.type}`))),
                    h("td", { "data-label": t("history.target") }, target(e)),
                    h("td", { "data-label": t("history.changes") }, body(e)),
                    h(
                      "td",
                      { class: "row-actions" },
                      h("button", { type: "button", class: "small", onclick: () => confirmRestore(e) }, t("history.restore")),
                    ),
                  ),
                ),
              ),
            )
          : h("p", { class: "empty card" }, t("history.empty")),
        more ? h("div", { class: "actions" }, h("button", { type: "button", onclick: older }, t("history.older"))) : null,
      );
    },
  };
}
