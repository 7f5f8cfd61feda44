// ReDoc's sidebar shows the Redocly logo from its CDN, unconditionally (no option turns it off).
// Offline that request fails and is a request to another host, so this shim, loaded before ReDoc,
// points any image on that CDN at the local favicon instead.
(() => {
  const CDN = "https://cdn.redoc.ly/";
  const LOCAL = "/ui/static/favicon.svg";
  const setAttribute = Element.prototype.setAttribute;
  Element.prototype.setAttribute = function patchedSetAttribute(name, value) {
    if (this instanceof HTMLImageElement && name === "src" && String(value).startsWith(CDN)) value = LOCAL;
    return setAttribute.call(this, name, value);
  };
  const source = Object.getOwnPropertyDescriptor(HTMLImageElement.prototype, "src");
  Object.defineProperty(HTMLImageElement.prototype, "src", {
    ...source,
    set(value) { source.set.call(this, String(value).startsWith(CDN) ? LOCAL : value); },
  });
})();
