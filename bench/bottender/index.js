// The Bottender baseline: answers a text with the quickstart's welcome (one Graph call).
const QUICK_REPLIES = [
  ['Pricing', 'PRICING'],
  ['Our products', 'PRODUCTS'],
  ['Sign up', 'SIGNUP'],
  ['Talk to a human', 'HUMAN'],
].map(([title, payload]) => ({ contentType: 'text', title, payload }));

module.exports = async function App(context) {
  if (context.event.isText) {
    await context.sendText('Hi there! What do you need?', { quickReplies: QUICK_REPLIES });
  }
};
