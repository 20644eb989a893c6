// Two people in two browsers: registration, a channel, an invitation, and
// the everyday actions of a conversation, each seen from the other side.
import { api, expect, loginViaApi, registerViaApi, snap, test } from './fixtures'
import { closeContexts, composer, messageWith, newPage, send, sidebarLink, signIn, timeline } from './helpers'
import { defaultPassword } from './api'

test.afterEach(closeContexts)

test('two users talk: channel, invite, messages, thread, reaction, typing, unread, search, edit, delete', async ({ server, browser }) => {
  test.setTimeout(90_000)
  await registerViaApi(server, 'alice', { admin: true, displayName: 'Alice Admin' })

  // Bob registers through the page.
  const bob = await newPage(browser, server)
  await bob.goto('/')
  await bob.getByRole('button', { name: 'Create an account' }).click()
  await bob.getByLabel('Username').fill('bob')
  await bob.getByLabel('Display name').fill('Bob Builder')
  await bob.getByLabel('Password').fill(defaultPassword)
  await bob.getByRole('button', { name: 'Create account' }).click()
  await expect(bob.getByRole('heading', { name: 'Welcome to Unhidra' })).toBeVisible()

  // Alice creates a channel and adds Bob from the members panel.
  const alice = (await signIn(browser, server, 'alice')).page
  await alice.getByRole('button', { name: 'Create channel' }).click()
  await alice.getByLabel('Name').fill('plant-floor')
  await alice.getByLabel('Topic (optional)').fill('Line 3 and everything around it')
  await alice.getByRole('button', { name: 'Create channel' }).last().click()
  await expect(alice.getByRole('heading', { name: 'plant-floor' }).first()).toBeVisible()
  await alice.getByRole('button', { name: /^Members/ }).click()
  await alice.getByLabel('Add people to this channel').fill('bob')
  await alice.getByRole('button', { name: 'Add Bob Builder' }).click()
  await expect(alice.getByRole('complementary', { name: 'Members' })).toContainText('Bob Builder')
  await alice.getByRole('button', { name: 'Close panel' }).click()

  // Bob hears about it live: the channel appears in his sidebar.
  await expect(sidebarLink(bob, /^#plant-floor/)).toBeVisible()
  await sidebarLink(bob, /^#plant-floor/).click()

  // Messages both ways, with Markdown; typing is seen by the other.
  await composer(alice, 'Message #plant-floor').pressSequentially('Morning', { delay: 20 })
  await expect(bob.getByText('Alice Admin is typing…')).toBeVisible()
  await composer(alice, 'Message #plant-floor').press('Enter')
  await expect(messageWith(bob, 'Morning')).toBeVisible()
  await send(bob, 'Message #plant-floor', 'Hi **Alice**, valve 7 is `stuck`\n\n- first\n- second')
  const bobMsg = messageWith(alice, 'valve 7')
  await expect(bobMsg.locator('strong')).toHaveText('Alice')
  await expect(bobMsg.locator('code')).toHaveText('stuck')
  await expect(bobMsg.locator('li')).toHaveCount(2)
  // Shift+Enter makes a new line instead of sending.
  const box = composer(alice, 'Message #plant-floor')
  await box.fill('line one')
  await box.press('Shift+Enter')
  await box.pressSequentially('line two')
  await expect(box).toHaveValue('line one\nline two')
  await box.press('Enter')
  await expect(messageWith(bob, 'line two')).toBeVisible()

  // A reaction, seen by the other with the count.
  await bobMsg.hover()
  await bobMsg.getByRole('button', { name: 'Add reaction' }).click()
  await alice.getByLabel('Search emoji').fill('thumbs up')
  await alice.getByLabel('Search emoji').press('Enter')
  await expect(messageWith(bob, 'valve 7').getByRole('button', { name: /1 reaction/ })).toBeVisible()

  // A thread reply in the side panel; the root shows the count to Bob.
  await bobMsg.hover()
  await bobMsg.getByRole('button', { name: 'Reply in thread' }).click()
  await send(alice, 'Reply in thread', 'On my way with a wrench')
  await expect(alice.getByRole('complementary', { name: 'Thread' })).toContainText('On my way with a wrench')
  await expect(messageWith(bob, 'valve 7').getByRole('button', { name: '1 reply' })).toBeVisible()
  await messageWith(bob, 'valve 7').getByRole('button', { name: '1 reply' }).click()
  await expect(bob.getByRole('complementary', { name: 'Thread' })).toContainText('On my way with a wrench')
  await snap(alice, 'thread')
  await bob.keyboard.press('Escape')
  await expect(bob.getByRole('complementary', { name: 'Thread' })).toHaveCount(0)

  // Read receipts: Alice sees that Bob has read her last message.
  await expect(timeline(alice).getByText('Seen by Bob Builder')).toBeVisible()

  // Unread and mention badges: Bob looks elsewhere while Alice mentions him.
  const aliceApi = await loginViaApi(server, { username: 'alice', password: defaultPassword })
  const random = await api(server).createChannel(aliceApi, { name: 'random' })
  const bobApi = await loginViaApi(server, { username: 'bob', password: defaultPassword })
  await api(server).joinChannel(bobApi, random.id)
  await sidebarLink(bob, /^#random/).click()
  await expect(composer(bob, 'Message #random')).toBeVisible()
  await send(alice, 'Message #plant-floor', 'Thanks @bob, fixed!')
  await expect(sidebarLink(bob, /^#plant-floor, 1 mention/)).toBeVisible()
  await expect(bob).toHaveTitle(/^\(1\) /)
  await snap(bob, 'unread-badge')
  await sidebarLink(bob, /^#plant-floor/).click()
  await expect(bob.getByRole('separator', { name: 'New messages' })).toBeVisible()
  await expect(sidebarLink(bob, /^#plant-floor$/)).toBeVisible()
  await expect(bob).not.toHaveTitle(/^\(/)

  // Search finds the message, with the match highlighted, and opens it.
  await bob.getByRole('button', { name: 'Search messages' }).click()
  await bob.getByRole('searchbox', { name: 'Search messages' }).fill('wrench')
  await bob.getByRole('searchbox', { name: 'Search messages' }).press('Enter')
  const hit = bob.getByRole('complementary', { name: 'Search' }).getByRole('button', { name: /wrench/ })
  await expect(hit.locator('mark')).toHaveText('wrench')
  await snap(bob, 'search')
  await hit.click()
  await expect(bob).toHaveURL(/\/c\/[^/]+\/m\/[^/]+$/)
  await expect(bob.getByRole('complementary', { name: 'Thread' })).toContainText('On my way with a wrench')

  // Edit with arrow-up in the empty box; delete from the message menu.
  await bob.keyboard.press('Escape')
  await composer(bob, 'Message #plant-floor').click()
  await composer(bob, 'Message #plant-floor').press('ArrowUp')
  const editBox = bob.getByRole('textbox', { name: 'Edit message' })
  await editBox.fill('Hi Alice, valve 7 is fixed now')
  await editBox.press('Enter')
  await expect(messageWith(alice, 'valve 7 is fixed now')).toContainText('(edited)')
  const toDelete = messageWith(bob, 'valve 7 is fixed now')
  await toDelete.hover()
  await toDelete.getByRole('button', { name: 'More actions' }).click()
  bob.once('dialog', (d) => void d.accept())
  await bob.getByRole('menuitem', { name: 'Delete message' }).click()
  await expect(timeline(alice).getByText('valve 7 is fixed now')).toHaveCount(0)
  await expect(timeline(alice).getByText('This message was deleted.')).toBeVisible()
  await snap(alice, 'channel')

  // A reload keeps Bob signed in (the refresh cookie), with his draft kept.
  await composer(bob, 'Message #plant-floor').fill('a draft I have not sent')
  await bob.reload()
  await expect(composer(bob, 'Message #plant-floor')).toHaveValue('a draft I have not sent')
})

test('direct messages, the channel switcher and browsing public channels', async ({ server, browser }) => {
  await registerViaApi(server, 'alice', { admin: true, displayName: 'Alice Admin' })
  await registerViaApi(server, 'bob', { displayName: 'Bob Builder' })
  const a = await loginViaApi(server, { username: 'alice', password: defaultPassword })
  await api(server).createChannel(a, { name: 'announcements', topic: 'News for everyone' })

  const bob = (await signIn(browser, server, 'bob')).page
  // Browse and join a public channel.
  await bob.getByRole('button', { name: 'Browse channels' }).first().click()
  await bob.getByRole('button', { name: 'Join announcements' }).click()
  await expect(composer(bob, 'Message #announcements')).toBeVisible()

  // Open a DM from the new-message dialog.
  await bob.getByRole('button', { name: 'New direct message' }).click()
  await bob.getByLabel('Find people').fill('ali')
  await bob.getByRole('button', { name: /Alice Admin/ }).click()
  await bob.getByRole('button', { name: 'Start conversation' }).click()
  await send(bob, 'Message Alice Admin', 'psst, a private word')

  const alice = (await signIn(browser, server, 'alice')).page
  await expect(sidebarLink(alice, /^Bob Builder, 1 unread/)).toBeVisible()
  // Ctrl+K finds the conversation by name.
  await alice.keyboard.press('Control+k')
  await alice.getByRole('combobox', { name: 'Channel or person' }).fill('bob')
  await alice.keyboard.press('Enter')
  await expect(messageWith(alice, 'psst, a private word')).toBeVisible()
  await expect(timeline(bob).getByText('Seen')).toBeVisible()
  await snap(alice, 'direct-message')

  // Hide the DM: it leaves the sidebar, and comes back with the next message.
  await alice.getByRole('button', { name: 'Channel settings' }).click()
  await alice.getByRole('menuitem', { name: 'Hide conversation' }).click()
  await expect(sidebarLink(alice, /^Bob Builder/)).toHaveCount(0)
  await send(bob, 'Message Alice Admin', 'are you there?')
  await expect(sidebarLink(alice, /^Bob Builder, 1 unread/)).toBeVisible()
})
