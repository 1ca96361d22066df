// メールサーバーの削除 / 全メールサーバーの削除 (Delete one / all): a confirmation naming what goes.
// Operations: query mailServer(id) / mailServers, mutation deleteMailServer / deleteAllMailServers.
import { ERRORS, gql } from "../api.js";
import { h } from "../dom.js";
import { t } from "../i18n.js";
import { heading, oauthBadge } from "./common.js";

const ONE = "query One($id: ID!) { mailServer(id: $id) { id code name version oauthProvider } }";
const ALL = "query All { mailServers { version totalCount items { id code name oauthProvider } } }";
const DELETE = `mutation Delete($input: DeleteMailServerInput!) { deleteMailServer(input: $input) { deletedId ${ERRORS} } }`;
const DELETE_ALL = `mutation DeleteAll($input: DeleteAllMailServersInput) {
  deleteAllMailServers(input: $input) { deletedCount ${ERRORS} }
}`;

function confirmation(title, question, servers, onYes, noHref, errors) {
  return h(
    "section",
    {},
    heading(title),
    h(
      "div",
      { class: "card confirm" },
      h("p", { class: "question" }, question),
      h(
        "ul",
        { class: "doomed" },
        servers.map((s) => h("li", {}, h("code", {}, s.code), " ", s.name, " ", oauthBadge(s.oauthProvider))),
      ),
      errors.length ? h("div", { class: "alert error", role: "alert" }, errors.map((m) => h("p", {}, m))) : null,
      h(
        "div",
        { class: "actions" },
        h("button", { type: "button", class: "danger", onclick: onYes, disabled: !servers.length }, t("yes")),
        h("a", { class: "button", href: noHref }, t("no")),
      ),
    ),
  );
}

async function run(ctx, document, variables, field, done, errorsOut) {
  let payload;
  try {
    payload = (await gql(document, variables))[field];
  } catch (error) {
    ctx.fail(error);
    return;
  }
  if (payload.errors.length) {
    errorsOut.splice(0, errorsOut.length, ...payload.errors.map((e) => e.message));
    ctx.redraw();
    return;
  }
  ctx.flash(done(payload));
  ctx.go("#/");
}

export function deleteScreen(ctx, [id]) {
  let server = null;
  const errors = [];
  return {
    title: () => t("delete.title"),
    async load() {
      server = (await gql(ONE, { id })).mailServer;
      if (!server) throw new Error(t("error.notFound"));
    },
    onEvent: (event) => event.streamId === id,
    view: () =>
      confirmation(
        t("delete.title"),
        t("delete.question"),
        [server],
        () =>
          run(
            ctx,
            DELETE,
            { input: { id, expectedVersion: server.version } },
            "deleteMailServer",
            () => t("delete.done", { name: server.name }),
            errors,
          ),
        `#/servers/${id}`,
        errors,
      ),
  };
}

export function deleteAllScreen(ctx) {
  let list = null;
  const errors = [];
  return {
    title: () => t("deleteAll.title"),
    async load() {
      list = (await gql(ALL)).mailServers;
    },
    onEvent: () => true,
    view: () =>
      confirmation(
        t("deleteAll.title"),
        list.totalCount ? t("deleteAll.question", { n: list.totalCount }) : t("deleteAll.empty"),
        list.items,
        () =>
          run(
            ctx,
            DELETE_ALL,
            { input: { expectedListVersion: list.version } },
            "deleteAllMailServers",
            (payload) => t("deleteAll.done", { n: payload.deletedCount }),
            errors,
          ),
        "#/",
        errors,
      ),
  };
}
