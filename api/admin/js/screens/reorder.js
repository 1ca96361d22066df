// メールサーバーの順番変更 / Reorder mail servers: drag and drop, or per-row buttons (and Alt+↑/↓),
// saved with expectedListVersion. Operations: query mailServers, mutation reorderMailServers.
import { ERRORS, gql } from "../api.js";
import { h } from "../dom.js";
import { t } from "../i18n.js";
import { heading, oauthBadge } from "./common.js";

const QUERY = "query Order { mailServers { version items { id code name oauthProvider } } }";
const REORDER = `mutation Reorder($input: ReorderMailServersInput!) {
  reorderMailServers(input: $input) { list { version } ${ERRORS} }
}`;

export function reorderScreen(ctx) {
  let list = null;
  let order = [];
  let conflict = false;
  let stale = false;
  let errors = [];
  let announcement = "";
  let dragged = null;

  async function load() {
    list = (await gql(QUERY)).mailServers;
    order = list.items.slice();
    conflict = false;
    stale = false;
    errors = [];
  }

  function move(index, to, button) {
    const target = Math.max(0, Math.min(order.length - 1, to));
    if (target === index) return;
    const [item] = order.splice(index, 1);
    order.splice(target, 0, item);
    announcement = t("reorder.moved", { name: item.name, pos: target + 1 });
    ctx.redraw();
    // Keep the keyboard where it was: the same button of the moved row, or its first usable one.
    const same = document.getElementById(`${button}-${item.id}`);
    const fallback = ["up", "down", "top", "bottom"]
      .map((kind) => document.getElementById(`${kind}-${item.id}`))
      .find((el) => el && !el.disabled);
    (same && !same.disabled ? same : fallback || document.getElementById(`row-${item.id}`))?.focus();
  }

  async function save() {
    let payload;
    try {
      payload = (await gql(REORDER, { input: { ids: order.map((s) => s.id), expectedListVersion: list.version } }))
        .reorderMailServers;
    } catch (error) {
      ctx.fail(error);
      return;
    }
    if (payload.errors.length) {
      conflict = payload.errors.some((e) => e.code === "VERSION_CONFLICT" || e.code === "ORDER_MISMATCH");
      errors = payload.errors.filter((e) => e.code !== "VERSION_CONFLICT").map((e) => e.message);
      ctx.redraw();
      document.getElementById("reorder-reload")?.focus();
      return;
    }
    ctx.flash(t("reorder.saved"));
    ctx.go("#/");
  }

  async function reload() {
    try {
      await load();
    } catch (error) {
      ctx.fail(error);
      return;
    }
    ctx.redraw();
    document.querySelector("#main h1")?.focus();
  }

  function row(server, index) {
    const last = order.length - 1;
    const button = (kind, label, to, disabled) =>
      h(
        "button",
        { type: "button", id: `${kind}-${server.id}`, class: "small", disabled, onclick: () => move(index, to, kind) },
        label,
      );
    return h(
      "li",
      {
        id: `row-${server.id}`,
        class: "reorder-row",
        draggable: "true",
        tabindex: "0",
        "aria-label": `${index + 1}. ${server.code} ${server.name}`,
        dataset: { id: server.id },
        onkeydown: (event) => {
          if (event.target.id !== `row-${server.id}` || !event.altKey) return;
          if (event.key === "ArrowUp") move(index, index - 1, "row");
          else if (event.key === "ArrowDown") move(index, index + 1, "row");
          else return;
          event.preventDefault();
          document.getElementById(`row-${server.id}`)?.focus();
        },
        ondragstart: (event) => {
          dragged = index;
          event.dataTransfer.effectAllowed = "move";
          event.dataTransfer.setData("text/plain", server.id);
          event.currentTarget.classList.add("dragging");
        },
        ondragend: (event) => event.currentTarget.classList.remove("dragging"),
        ondragover: (event) => {
          event.preventDefault();
          event.dataTransfer.dropEffect = "move";
          event.currentTarget.classList.add("drop-target");
        },
        ondragleave: (event) => event.currentTarget.classList.remove("drop-target"),
        ondrop: (event) => {
          event.preventDefault();
          if (dragged !== null) move(dragged, index, "row");
          dragged = null;
        },
      },
      h("span", { class: "handle", title: t("reorder.handle"), "aria-hidden": "true" }, "⋮⋮"),
      h("span", { class: "pos" }, index + 1),
      h("span", { class: "who" }, h("code", {}, server.code), " ", h("span", {}, server.name), " ", oauthBadge(server.oauthProvider)),
      h(
        "span",
        { class: "move" },
        button("up", t("reorder.up"), index - 1, index === 0),
        button("down", t("reorder.down"), index + 1, index === last),
        button("top", t("reorder.top"), 0, index === 0),
        button("bottom", t("reorder.bottom"), last, index === last),
      ),
    );
  }

  return {
    title: () => t("reorder.title"),
    load,
    onEvent(event) {
      if (["ServerAdded", "ServerDeleted", "AllServersDeleted", "ServersReordered"].includes(event.type) && !stale) {
        stale = true;
        ctx.redraw();
      }
      return false;
    },
    view() {
      return h(
        "section",
        {},
        heading(t("reorder.title")),
        h("p", { class: "muted" }, t("reorder.intro")),
        conflict || stale
          ? h(
              "div",
              { class: "alert warning", role: conflict ? "alert" : "status" },
              h("p", {}, t("reorder.conflict")),
              errors.map((message) => h("p", {}, message)),
              h("button", { type: "button", id: "reorder-reload", onclick: reload }, t("reorder.reload")),
            )
          : null,
        order.length
          ? h("ol", { class: "reorder card", "aria-label": t("reorder.title") }, order.map(row))
          : h("p", { class: "empty card" }, t("list.empty")),
        h("p", { class: "sr-only", role: "status", "aria-live": "polite" }, announcement),
        h(
          "div",
          { class: "actions" },
          h("button", { type: "button", class: "primary", onclick: save, disabled: !order.length }, t("reorder.save")),
          h("a", { class: "button", href: "#/" }, t("form.cancel")),
        ),
      );
    },
  };
}
