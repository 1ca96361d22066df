// ユーザーアカウントのメール設定 / User account mail settings: what a signed-in user sees.
// Operations: query mailServerChoices, subscription mailServerChoicesChanged.
import { gql, token } from "../api.js";
import { h } from "../dom.js";
import { t } from "../i18n.js";
import { connect } from "../live.js";
import { heading } from "./common.js";

const CHOICES = "query Choices { mailServerChoices { id code name } }";
const CHANGED = "subscription Choices { mailServerChoicesChanged { id code name } }";

export function previewScreen(ctx) {
  let choices = [];
  let selected = "";
  let client = null;
  let stop = null;

  return {
    title: () => t("preview.title"),
    async load() {
      choices = (await gql(CHOICES)).mailServerChoices;
      // The subscription sends the current choices at once and again after every change;
      // the library reconnects and subscribes again by itself.
      client = connect(token(), { retryAttempts: Infinity, shouldRetry: () => true });
      stop = client.subscribe(
        { query: CHANGED },
        {
          next: (message) => {
            if (!message.data) return;
            choices = message.data.mailServerChoicesChanged;
            ctx.redraw();
          },
          error: () => {},
          complete: () => {},
        },
      );
    },
    dispose() {
      stop?.();
      client?.dispose();
    },
    view() {
      if (selected && !choices.some((c) => c.id === selected)) selected = "";
      return h(
        "section",
        {},
        heading(t("preview.title")),
        h("p", { class: "muted" }, t("preview.intro")),
        h(
          "div",
          { class: "card narrow preview" },
          h(
            "div",
            { class: "field" },
            h("label", { for: "preview-server" }, t("preview.select")),
            h(
              "select",
              { id: "preview-server", onchange: (e) => (selected = e.target.value) },
              h("option", { value: "" }, t("preview.none")),
              choices.map((c) => h("option", { value: c.id, selected: c.id === selected }, c.name)),
            ),
          ),
        ),
      );
    },
  };
}
