// The stylesheet of the Try it, Jobs and Job pages, linked once from whichever
// of them opens first (the CSP allows same-origin stylesheets).

export function useJobStyles() {
  if (document.querySelector('link[href="/console/jobs.css"]')) return;
  document.head.append(Object.assign(document.createElement("link"), { rel: "stylesheet", href: "/console/jobs.css" }));
}
