// One model (#/models/NAME): its metadata, versions, rollouts, access and
// history, with the owner's controls. The controls show for the model's owners
// and superusers only; the API decides anyway, and a refusal shows its message.
// Each section lives in a module of its own (model_*.js); this one loads the
// model and lays the sections out again after every change.

import { ApiError, call, get, isSuperuser, user } from "../api.js";
import { field, fieldError, fill, h } from "../dom.js";
import { fail, notify } from "../app.js";
import { markdown } from "../markdown.js";
import { accessSection, deleteSection, visibilitySection } from "./model_access.js";
import { historySection } from "./model_history.js";
import { pastRolloutsSection, rolloutSection } from "./model_rollouts.js";
import { errorAtField, section } from "./model_ui.js";
import { versionsSection } from "./model_versions.js";

const path = (name) => `/v1/models/${encodeURIComponent(name)}`;

function notVisible(main, name, error) {
  fill(main, h("h1", {}, name),
    h("p", { class: "error", role: "alert" },
      `Model ${name}: not found or not visible to you. (${error.message})`),
    h("p", {}, h("a", { href: "#/models" }, "Back to the models")));
}

function heading(ctx) {
  const { model } = ctx;
  return h("header", { class: "owner-head" },
    h("h1", {}, model.display_name || model.name),
    h("p", { class: "owner-meta" },
      h("code", {}, model.name), " · ",
      h("span", { class: "owner-badge" }, model.visibility === "VISIBILITY_PUBLIC" ? "public" : "private"),
      " · runs ", h("b", {}, model.resolved_version || "no version yet"),
      ctx.manage ? h("span", { class: "owner-badge owner-you" }, ctx.role) : null),
    h("div", { class: "owner-tags" }, (model.tags || []).map((tag) => h("span", { class: "tag" }, tag))),
    h("p", {}, h("a", { href: `#/models/${encodeURIComponent(model.name)}/try`, class: "owner-try" }, "Try it")));
}

function editForm(ctx, done) {
  const { model } = ctx;
  const display = h("input", { type: "text", id: "meta-display", value: model.display_name || "" });
  const description = h("textarea", { id: "meta-description", rows: 8 });
  description.value = model.description || "";
  const tags = h("input", { type: "text", id: "meta-tags", value: (model.tags || []).join(", ") });
  const inputs = { "model.display_name": display, "model.description": description, "model.tags": tags, tags };
  const save = async (event) => {
    event.preventDefault();
    for (const input of [display, description, tags]) fieldError(input, "");
    const body = {
      name: model.name, display_name: display.value, description: description.value,
      tags: tags.value.split(",").map((t) => t.trim()).filter(Boolean),
    };
    try {
      await call("PATCH", `${path(model.name)}?update_mask=display_name,description,tags`, body);
      notify("Saved.");
      await ctx.refresh();
    } catch (error) {
      if (!errorAtField(error, inputs)) fail(error);
    }
  };
  return h("form", { class: "owner-form", onsubmit: save },
    field("Display name", display),
    field("Description", description, "Markdown: paragraphs, **strong**, *em*, `code`, ``` blocks, - lists, 1. lists, [links](https://…)."),
    field("Tags", tags, "Comma-separated."),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Save"),
      h("button", { type: "button", class: "secondary", onclick: done }, "Cancel")));
}

function metadataSection(ctx) {
  const body = h("div", {});
  const show = () => fill(body, markdown(ctx.model.description || "No description."),
    ctx.manage ? h("div", { class: "actions" },
      h("button", { type: "button", class: "secondary", onclick: () => fill(body, editForm(ctx, show)) }, "Edit details")) : null);
  show();
  return section("Description", body);
}

async function load(name, superuser) {
  const model = (await get(path(name))).model;
  // ListAccess is for owners and superusers; read it before drawing, so that a
  // change never shows the access list half-redrawn.
  const access = superuser || (model.owners || []).includes(user())
    ? (await get(`${path(name)}/access`)).grants || [] : null;
  const versions = [];
  let token = "";
  do {
    const reply = await get(`${path(name)}/versions?page_size=1000${token ? `&page_token=${encodeURIComponent(token)}` : ""}`);
    versions.push(...(reply.versions || []));
    token = reply.next_page_token || "";
  } while (token);
  return { model, versions, access };
}

export async function render(main, params) {
  const name = params[0];
  const superuser = await isSuperuser();
  let stopSections = [];
  const stopAll = () => { for (const stop of stopSections) stop(); stopSections = []; };
  const ctx = { name, superuser, path: path(name) };
  const draw = () => {
    stopAll();
    if (ctx.left) return; // an answer that arrived after the reader left the page

    const owner = (ctx.model.owners || []).includes(user());
    ctx.manage = superuser || owner;
    ctx.role = superuser ? "superuser" : owner ? "owner" : "";
    const parts = [heading(ctx), metadataSection(ctx), versionsSection(ctx)];
    if (ctx.manage) {
      const rollout = rolloutSection(ctx);
      stopSections.push(rollout.stop);
      parts.push(rollout.node, visibilitySection(ctx));
    }
    parts.push(accessSection(ctx));
    if (ctx.manage) parts.push(historySection(ctx), pastRolloutsSection(ctx), deleteSection(ctx));
    fill(main, parts);
  };
  ctx.refresh = async () => {
    Object.assign(ctx, await load(name, superuser));
    draw();
  };
  try {
    Object.assign(ctx, await load(name, superuser));
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      notVisible(main, name, error);
      return null;
    }
    throw error;
  }
  draw();
  return () => {
    ctx.left = true;
    stopAll();
  };
}
