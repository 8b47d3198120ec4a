// Chat UI: shows the conversation and posts new messages to the backend.
// User text is only ever put on the page with textContent, never innerHTML,
// so a message like "<img onerror=...>" shows up as text instead of running.
"use strict";

const API_URL = "/api/messages";
const PAGE_SIZE = 50;
const REFRESH_EVERY_MS = 5000;

const list = document.getElementById("message-list");
const form = document.getElementById("message-form");
const authorInput = document.getElementById("author");
const textInput = document.getElementById("text");
const statusLine = document.getElementById("status");

// Messages are appended oldest-first, so the count on screen is the offset
// of the next page to ask for.
let shownCount = 0;
let refreshing = null;

function setStatus(message, isError = false) {
  statusLine.textContent = message;
  statusLine.classList.toggle("error", isError);
}

// The one place that knows the API's field names.
function fromApi(message) {
  return {
    id: message.id,
    author: message.author,
    text: message.text,
    createdAt: message.created_at,
  };
}

function formatTime(isoString) {
  const date = new Date(isoString);
  return Number.isNaN(date.getTime()) ? isoString : date.toLocaleTimeString();
}

function renderMessage(message) {
  const item = document.createElement("li");
  item.className = "message";
  item.dataset.id = message.id;

  const author = document.createElement("span");
  author.className = "author";
  author.textContent = message.author;

  const time = document.createElement("time");
  time.dateTime = message.createdAt;
  time.textContent = formatTime(message.createdAt);

  const text = document.createElement("p");
  text.className = "text";
  text.textContent = message.text;

  item.append(author, time, text);
  return item;
}

async function fetchPage(offset) {
  const response = await fetch(`${API_URL}?limit=${PAGE_SIZE}&offset=${offset}`);
  if (!response.ok) {
    throw new Error(`loading messages failed (HTTP ${response.status})`);
  }
  return response.json();
}

// Fetch every page after the messages already on screen and append them.
async function loadNewMessages() {
  let offset = shownCount;
  while (offset !== null) {
    const page = await fetchPage(offset);
    for (const message of page.messages.map(fromApi)) {
      list.append(renderMessage(message));
    }
    shownCount += page.messages.length;
    if (page.messages.length === 0) break; // never loop on an empty page
    offset = page.next_offset ?? null;
  }
  list.scrollTop = list.scrollHeight;
}

// Polling and sending both refresh; never run two refreshes at once.
function refresh() {
  refreshing ??= loadNewMessages()
    .then(() => setStatus(""))
    .catch((error) => setStatus(error.message, true))
    .finally(() => { refreshing = null; });
  return refreshing;
}

async function sendMessage(event) {
  event.preventDefault();
  const payload = { author: authorInput.value.trim(), text: textInput.value.trim() };
  if (!payload.author || !payload.text) return;

  const response = await fetch(API_URL, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(payload),
  });
  if (!response.ok) {
    const problem = await response.json().catch(() => ({}));
    setStatus(problem.error || `sending failed (HTTP ${response.status})`, true);
    return;
  }
  localStorage.setItem("chat-author", payload.author);
  textInput.value = "";
  await refresh();
}

authorInput.value = localStorage.getItem("chat-author") || "";
form.addEventListener("submit", (event) => {
  sendMessage(event).catch((error) => setStatus(error.message, true));
});
refresh();
setInterval(refresh, REFRESH_EVERY_MS);
