// Copies the text of a button's data-copy attribute (a new API key) to the
// clipboard. The page works without it: the key is also shown as text.
document.querySelectorAll("button[data-copy]").forEach((button) => {
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(button.dataset.copy);
      button.textContent = "Copied";
    } catch {
      button.textContent = "Select the key and copy it";
    }
  });
});
