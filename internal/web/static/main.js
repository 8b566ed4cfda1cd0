// @ts-check
// The entry module: it starts what the page needs (data-page on <body>)
// and wires the parts together. Nothing here is global: every piece of
// state lives in the objects made below.

import { Attention } from "./attention.js";
import { Uploads } from "./attachments.js";
import { Connection } from "./connection.js";
import { ConversationList } from "./conversation-list.js";
import { fetchConversation } from "./api.js";
import { ConversationView, Names } from "./conversation-view.js";
import { GroupPicker } from "./group-picker.js";
import { byId } from "./markup.js";
import { Outbox } from "./outbox.js";
import { PeoplePage } from "./people.js";
import { Store } from "./store.js";

/** @typedef {import("./wire.js").AppState} AppState */

/**
 * The data the server wrote into the page for the script (#page-state).
 * @returns {AppState}
 */
function pageState() {
  return JSON.parse(byId("page-state", HTMLScriptElement).text);
}

/**
 * The main view: the conversation list and the open conversation, kept up
 * to date over the WebSocket.
 * @param {AppState} state
 */
function startApp(state) {
  const store = new Store(state.me.id);
  store.putUsers([state.me, ...(state.users ?? [])]);
  store.setList(state.conversations);
  if (state.open) {
    // The server read the row before the messages (handleApp).
    store.open(state.open.conversation, state.open, true);
    if (state.open.members) store.setMembers(state.open.conversation.id, state.open.members);
  }
  const names = new Names(store);

  /** @type {Connection} */
  const conn = new Connection(
    {
      hello: async () => {
        // Uploads the network cut off go again; whatever happened between
        // the page being made (or the last connection dropping) and now is
        // fetched, then unsent messages go.
        uploads.resume();
        await catchUp();
        outbox.resendAll();
      },
      // The server may have lost events for this page (its broker was
      // away): fetch what changed, as after a reconnect. The outbox is not
      // resent: the connection did not drop, and its sends are answered.
      resync: () => {
        catchUp();
      },
      ack: (f) => {
        outbox.acked(f.client_id);
        receive(f.message);
      },
      message: (f) => {
        receive(f.message);
        attention.notify(f.message);
      },
      // An edit or a deletion. One in a conversation the page does not
      // list changes nothing it shows: an edit does not move a
      // conversation up the list, as a message does.
      message_updated: (f) => store.update(f.message),
      typing: (f) => view.showTyping(f),
      read: (f) => {
        if (!store.read(f.conversation_id, f.user_id, f.seq)) list.refreshRow(f.conversation_id);
      },
      presence: (f) => store.setPresence(f.user_id, f.online),
      user: (f) => store.setUser(f.user),
      member: (f) => memberChanged(f),
      conversation: (f) => {
        // A group renamed, or created with the reader in it.
        if (!store.applyConversation(f.conversation)) addConversation(f.conversation.id);
      },
      error: (f) => outbox.refused(f),
    },
    showConnection,
  );
  const outbox = new Outbox((frame) => conn.send(frame));
  const uploads = new Uploads();
  const view = new ConversationView(store, outbox, conn, names, uploads);
  const list = new ConversationList(store, (id) => view.open(id, true), names);
  const attention = new Attention(store, (id) => view.open(id, true));

  /** @type {Promise<void> | null} the catch-up under way */
  let catchingUp = null;
  let catchUpAgain = false;

  /**
   * Fetches what changed since the page last knew: the open
   * conversation's changes, then the list. The open conversation first:
   * its changes, new messages among them, are fetched by version before
   * the list's rows say how far it goes (else the gap would also be
   * fetched by seq). A call while one is under way gets one more after
   * it, which the returned promise waits for too: what changed during the
   * first fetch is not left out.
   * @returns {Promise<void>}
   */
  function catchUp() {
    if (catchingUp) {
      catchUpAgain = true;
      return catchingUp;
    }
    catchingUp = (async () => {
      do {
        catchUpAgain = false;
        try {
          await view.catchUp();
          await list.refresh();
        } catch {
          // The next reconnect or resync tries again.
        }
      } while (catchUpAgain);
      catchingUp = null;
    })();
    return catchingUp;
  }

  /** @param {import("./wire.js").Message} m */
  function receive(m) {
    // A conversation new to this page: the list, fetched again, puts it in its place.
    if (!store.receive(m)) list.scheduleRefresh();
  }

  /**
   * A group's membership changed. The reader added: the group joins the
   * list. The reader removed (or gone): it leaves the list, and the pane
   * goes back to the placeholder if it was open. Someone else: the member
   * list the page holds follows, and the row is fetched again for its
   * member count (fetched, not counted here, so that a frame twice
   * changes nothing).
   * @param {import("./wire.js").MemberFrame} f
   */
  function memberChanged(f) {
    const id = f.conversation_id;
    if (f.user_id === store.me) {
      if (f.change === "removed") {
        const wasOpen = store.openId === id;
        store.drop(id);
        if (wasOpen) {
          view.close(false);
          history.replaceState({}, "", "/");
        }
        return;
      }
      if (f.change === "added") {
        addConversation(id);
        return;
      }
    }
    if (!store.row(id)) return;
    if (f.change === "removed") store.removeMember(id, f.user_id);
    else {
      names.forget(id);
      names.ask(id, f.user_id);
    }
    list.refreshRow(id);
  }

  /**
   * Fetches a conversation the page does not list yet into the list.
   * @param {number} id
   */
  async function addConversation(id) {
    try {
      const data = await fetchConversation(id);
      store.addRow(data.conversation);
    } catch {
      // Not ours (any more); the next list fetch says.
    }
  }

  list.start();
  if (state.open && state.open.at) view.openedAt(state.open.conversation.id, state.open.at);
  view.start();
  attention.start();
  store.changed();
  conn.start();
  if (state.open) view.composer.focus();

  // Esc closes what is open: at phone width, where the conversation takes
  // the whole screen, it goes back to the list. Back there, by Esc or the
  // back link, the focus is on the conversation's row, not lost with the
  // pane that went.
  const phone = window.matchMedia("(max-width: 700px)");
  /** @param {number} id */
  const focusRowSoon = (id) => setTimeout(() => list.focusRow(id), 0); // after the views redrew (microtasks)
  document.addEventListener("keydown", (e) => {
    if (e.key !== "Escape" || e.defaultPrevented || e.isComposing) return;
    const id = store.openId;
    if (id === null || !phone.matches) return;
    e.preventDefault();
    view.close(true);
    focusRowSoon(id);
  });
  let lastOpen = store.openId;
  store.subscribe(() => {
    if (store.openId !== null) lastOpen = store.openId;
  });
  byId("back-link", HTMLAnchorElement).addEventListener("click", () => {
    if (lastOpen !== null) focusRowSoon(lastOpen);
  });
}

/**
 * Shows whether the WebSocket is connected.
 * @param {boolean} up
 */
function showConnection(up) {
  byId("connection-status", HTMLElement).hidden = up;
  document.body.dataset.connected = String(up);
}

switch (document.body.dataset.page) {
  case "app":
    startApp(pageState());
    break;
  case "people":
    new PeoplePage().start();
    break;
  case "group-new":
    new GroupPicker().start();
    break;
}
