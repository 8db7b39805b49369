// Placeholder: this page of the console is not built yet.
import { fill, h } from "../dom.js";

export async function render(main) {
  fill(main, h("h1", {}, "Not built yet"), h("p", {}, "This page of the console is not built yet."));
}
