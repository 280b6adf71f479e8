// Bottender's own server (`bottender start`), memory sessions, the Graph base from the env.
module.exports = {
  session: { driver: 'memory', stores: { memory: { maxSize: 100000 } } },
  initialState: {},
  channels: {
    messenger: {
      enabled: true,
      path: '/webhook/messenger',
      pageId: process.env.MESSENGER_PAGE_ID,
      accessToken: process.env.MESSENGER_ACCESS_TOKEN,
      appSecret: process.env.MESSENGER_APP_SECRET,
      verifyToken: process.env.MESSENGER_VERIFY_TOKEN,
      origin: process.env.MESSENGER_GRAPH_API_BASE,
    },
  },
};
