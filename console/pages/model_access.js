// The model page's access controls: visibility, the owners and readers with
// granting and revoking, and deleting the model behind a confirmation that
// names the consensus models using it. Owners grant and revoke readers; only
// superusers see the owner controls (the API refuses anyone else anyway).

import { call, get, post, query } from "../api.js";
import { field, fieldError, fill, h } from "../dom.js";
import { notify } from "../app.js";
import { confirmChange, errorAtField, section } from "./model_ui.js";

const ROLE = { ACCESS_ROLE_OWNER: "owner", ACCESS_ROLE_READER: "reader" };

export function visibilitySection(ctx) {
  const isPublic = ctx.model.visibility === "VISIBILITY_PUBLIC";
  const target = isPublic ? "VISIBILITY_PRIVATE" : "VISIBILITY_PUBLIC";
  const change = () => confirmChange(
    isPublic ? `Make ${ctx.name} private?` : `Make ${ctx.name} public?`,
    h("p", {}, isPublic
      ? "Only superusers, its owners and granted readers will see and run it."
      : "Every signed-in user will see and run it."),
    isPublic ? "Make private" : "Make public",
    () => post(`${ctx.path}:setVisibility`, { visibility: target }),
  ).then(async (done) => { if (done) { notify("Visibility changed."); await ctx.refresh(); } });
  return section("Visibility",
    h("p", {}, isPublic ? "Public: every signed-in user may see and run it." : "Private: only its owners, its readers and superusers see it."),
    h("button", { type: "button", class: "secondary", onclick: change }, isPublic ? "Make private" : "Make public"));
}

function revokeButton(ctx, grant) {
  const role = ROLE[grant.role];
  const may = ctx.superuser || (ctx.manage && role === "reader");
  if (!may) return null;
  return h("button", { type: "button", class: "secondary small", "aria-label": `Revoke ${role} ${grant.user}`,
    onclick: () => confirmChange(`Revoke ${grant.user}'s ${role} role?`,
      h("p", {}, `${grant.user} will no longer be ${role === "owner" ? "an owner" : "a reader"} of ${ctx.name}.`),
      "Revoke", () => post(`${ctx.path}:revokeAccess`, { user: grant.user, role: grant.role }), true,
    ).then(async (done) => { if (done) { notify(`Revoked ${grant.user}.`); await ctx.refresh(); } }) }, "Revoke");
}

function grantForm(ctx) {
  const who = h("input", { type: "text", id: "grant-user", autocomplete: "off", required: true });
  const roles = [h("option", { value: "ACCESS_ROLE_READER" }, "reader")];
  if (ctx.superuser) roles.push(h("option", { value: "ACCESS_ROLE_OWNER" }, "owner"));
  const role = h("select", { id: "grant-role" }, roles);
  const submit = async (event) => {
    event.preventDefault();
    fieldError(who, "");
    try {
      await post(`${ctx.path}:grantAccess`, { user: who.value.trim(), role: role.value });
      notify(`${who.value.trim()} is ${ROLE[role.value] === "owner" ? "an owner" : "a reader"} now.`);
      await ctx.refresh();
    } catch (error) {
      if (!errorAtField(error, { user: who, role })) fieldError(who, error.message ? error.message : String(error));
    }
  };
  return h("form", { class: "owner-form owner-inline", onsubmit: submit },
    field("User", who, "As named in their token (its sub)."), field("Role", role),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Grant")));
}

function grantsList(ctx, grants) {
  if (!grants.length) return h("p", { class: "hint" }, "No owners or readers.");
  return h("ul", { class: "owner-grants" }, grants.map((grant) => h("li", {},
    h("span", { class: "owner-badge" }, ROLE[grant.role] || grant.role), " ", h("b", {}, grant.user), " ",
    revokeButton(ctx, grant))));
}

/** Owners and readers: ListAccess's grants for managers (ctx.access), else the model's lists. */
export function accessSection(ctx) {
  const grants = ctx.access || [
    ...(ctx.model.owners || []).map((u) => ({ user: u, role: "ACCESS_ROLE_OWNER" })),
    ...(ctx.model.readers || []).map((u) => ({ user: u, role: "ACCESS_ROLE_READER" })),
  ];
  return section("Access", grantsList(ctx, grants), ctx.manage ? grantForm(ctx) : null);
}

/** The consensus models the caller can see whose versions use the model. */
async function dependents(name) {
  const reply = await get(`/v1/models:search${query({ backend_kind: "consensus", page_size: 100 })}`);
  const found = [];
  for (const hit of reply.hits || []) {
    if (hit.model.name === name) continue;
    const versions = (await get(`/v1/models/${encodeURIComponent(hit.model.name)}/versions?page_size=1000`)).versions || [];
    const uses = versions.some((v) => ((v.backend && v.backend.config && v.backend.config.children) || [])
      .some((child) => child.model === name));
    if (uses) found.push(hit.model.name);
  }
  return found;
}

async function askDelete(ctx) {
  const list = h("div", {}, h("p", { class: "hint" }, "Looking for consensus models that use it…"));
  const body = h("div", {},
    h("p", {}, `Deleting ${ctx.name} removes it with its ${ctx.versions.length} version(s) and every access grant. This cannot be undone.`),
    list);
  dependents(ctx.name).then(
    (names) => fill(list, names.length
      ? [h("p", { class: "error" }, "Consensus models that use it (the registry refuses to delete it while they do):"),
        h("ul", {}, names.map((n) => h("li", {}, h("a", { href: `#/models/${encodeURIComponent(n)}` }, n))))]
      : h("p", { class: "hint" }, "No consensus model you can see uses it. The registry checks again, and names any it finds.")),
    () => fill(list, h("p", { class: "hint" }, "Could not look for consensus models that use it; the registry checks when you delete.")));
  const done = await confirmChange(`Delete ${ctx.name}?`, body, `Delete ${ctx.name}`,
    () => call("DELETE", ctx.path), true);
  if (!done) return;
  notify(`${ctx.name} deleted.`);
  location.hash = "#/models";
}

export function deleteSection(ctx) {
  return section("Delete",
    h("p", {}, "Deleting a model removes its versions and grants. Consensus models that use it, and an active rollout, stop it."),
    h("button", { type: "button", class: "danger", onclick: () => askDelete(ctx) }, "Delete model"));
}
