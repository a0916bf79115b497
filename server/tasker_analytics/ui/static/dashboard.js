// The dashboard's only script. ui/views.py reads it once at import and inlines it in every
// page; the Content-Security-Policy allows it by its sha256, computed from this file.
// It only tidies the filter form's URL (empty selects are left out instead of being
// redirected away by the server) and posts a token to, or deletes, the session.
const form = document.getElementById("scope-form");
if (form) form.addEventListener("submit", (event) => {
  event.preventDefault();
  const query = new URLSearchParams([...new FormData(form)].filter(([, value]) => value !== ""));
  location.assign(form.action + (query.size ? "?" + query : ""));
});
const signIn = document.getElementById("signin");
if (signIn) signIn.addEventListener("submit", async (event) => {
  event.preventDefault();
  const token = signIn.elements.token.value.trim();
  const answer = await fetch(signIn.action, {method: "POST", headers: {Authorization: "Bearer " + token}});
  if (answer.ok) location.reload();
  else document.getElementById("signin-error").textContent = "refused: " + answer.status;
});
const signOut = document.getElementById("signout");
if (signOut) signOut.addEventListener("click", async () => {
  await fetch(signOut.dataset.session, {method: "DELETE"});
  location.reload();
});
