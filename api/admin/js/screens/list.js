// メールサーバーの設定 / Mail server settings: the servers in order. Operations: query mailServers.
import { gql, SERVER_FIELDS } from "../api.js";
import { h } from "../dom.js";
import { t } from "../i18n.js";
import { heading, hostPort, oauthBadge } from "./common.js";

const QUERY = `${SERVER_FIELDS}
query List { mailServers { version totalCount items { ...ServerFields } } }`;

export function listScreen() {
  let list = null;
  return {
    title: () => t("list.title"),
    async load() {
      list = (await gql(QUERY)).mailServers;
    },
    onEvent: () => true,
    view() {
      const empty = list.items.length === 0;
      return h(
        "section",
        {},
        heading(
          t("list.title"),
          h("a", { class: "button primary", href: "#/servers/new" }, t("list.add")),
          h("a", { class: "button", href: "#/reorder" }, t("list.reorder")),
          h("a", { class: "button", href: "#/history" }, t("list.history")),
          h("a", { class: "button danger-outline", href: "#/delete-all" }, t("list.deleteAll")),
        ),
        h("p", { class: "muted count" }, t("list.count", { n: list.totalCount })),
        empty
          ? h("p", { class: "empty card" }, t("list.empty"))
          : h(
              "table",
              { class: "servers" },
              h(
                "thead",
                {},
                h(
                  "tr",
                  {},
                  ["col.position", "col.code", "col.name", "col.smtp", "col.receive", "col.oauth"].map((key) =>
                    h("th", { scope: "col" }, t(key)),
                  ),
                ),
              ),
              h("tbody", {}, list.items.map(row)),
            ),
      );
    },
  };
}

function row(server) {
  const out = server.outgoing;
  const inc = server.incoming;
  return h(
    "tr",
    { dataset: { id: server.id } },
    h("td", { class: "num", "data-label": t("col.position") }, server.position),
    h("td", { "data-label": t("col.code") }, h("code", {}, server.code)),
    h("td", { "data-label": t("col.name") }, h("a", { href: `#/servers/${server.id}` }, server.name)),
    h(
      "td",
      { "data-label": t("col.smtp") },
      h("span", { class: "mono" }, hostPort(out.host, out.port)),
      " ",
      h("span", { class: "tag" }, t(`f.enc.${out.encryption}`)),
    ),
    h(
      "td",
      { "data-label": t("col.receive") },
      h("span", { class: "tag tag-proto" }, inc.protocol),
      " ",
      h("span", { class: "mono" }, hostPort(inc.host, inc.port)),
      inc.useTls ? [" ", h("span", { class: "tag" }, "TLS")] : null,
      inc.useApop ? [" ", h("span", { class: "tag" }, "APOP")] : null,
    ),
    h("td", { "data-label": t("col.oauth") }, oauthBadge(server.oauthProvider) || h("span", { class: "muted" }, "—")),
  );
}
