/* `/runs/{id}` of a run that does not exist: say so, in the reader's language, and point at the list. */
"use strict";

(() => {
  const id = decodeURIComponent(location.pathname.split("/").filter(Boolean)[1] || "");
  const show = () => {
    LW.applyText();
    document.getElementById("missing-text").textContent = LW.t("missingText", { id });
  };
  LW.onLang(show);
  show();
})();
