import { randomBytes } from 'node:crypto';
import {
  CLIENT_CAPABILITIES_META_KEY,
  acceptedContent,
  createRequestStateCodec,
  inputRequired,
  type CallToolResult,
  type InputRequest,
  type InputRequiredResult,
  type McpServer,
  type ServerContext,
} from '@modelcontextprotocol/server';
import * as z from 'zod';

/**
 * The multi-round-trip fixtures (SEP-2322, protocol 2026-07-28) of the conformance suite's
 * `input-required-result-*` scenarios: tools and a prompt that answer with an input-required result
 * until the client retries with the `inputResponses` (and `requestState`) they asked for. The
 * contracts are the scenarios' descriptions in node_modules/conformance-2026/dist/index.js.
 */

/**
 * `requestState` round-trips through the client, so it is sealed (HMAC) and checked by the SDK
 * before any handler runs: a tampered state is refused with -32602. One key per process: one
 * fixture server answers every round of a flow.
 */
export const requestStateCodec = createRequestStateCodec<{ tool: string; round: number }>({
  key: randomBytes(32),
  bind: (ctx) => ctx.mcpReq.method,
});

const nameRequest = (message: string) =>
  inputRequired.elicit({ message, requestedSchema: z.object({ name: z.string() }) });

const sampling = (question: string, maxTokens: number) =>
  inputRequired.createMessage({
    messages: [{ role: 'user', content: { type: 'text', text: question } }],
    maxTokens,
  });

type Answer = CallToolResult | InputRequiredResult;

const text = (value: string): CallToolResult => ({ content: [{ type: 'text' as const, text: value }] });

/** Registers the tools and the prompt (2026-07-28 requests only: older eras have no such results). */
export function registerInputRequiredFixtures(server: McpServer): void {
  const tool = (
    name: string,
    description: string,
    handler: (ctx: ServerContext) => Answer | Promise<Answer>,
  ) =>
    server.registerTool(name, { description, inputSchema: z.object({}) }, (_args, ctx: ServerContext) =>
      handler(ctx),
    );

  tool('test_input_required_result_elicitation', 'Asks for a name, then greets', (ctx) => {
    const answer = acceptedContent(ctx.mcpReq.inputResponses, 'user_name');
    // A retry without the answer (a wrong key, a declined form) is asked again, not refused.
    if (typeof answer?.name !== 'string') {
      return inputRequired({ inputRequests: { user_name: nameRequest('What is your name?') } });
    }
    return text(`Hello, ${answer.name}!`);
  });

  tool('test_input_required_result_sampling', 'Asks the client model a question', (ctx) => {
    const answer = responseOf(ctx, 'capital_question');
    if (answer === undefined) {
      return inputRequired({
        inputRequests: { capital_question: sampling('What is the capital of France?', 100) },
      });
    }
    return text(`The model said: ${samplingText(answer)}`);
  });

  tool('test_input_required_result_list_roots', 'Asks the client for its roots', (ctx) => {
    const answer = responseOf(ctx, 'client_roots');
    if (!isObject(answer) || !Array.isArray(answer.roots)) {
      return inputRequired({ inputRequests: { client_roots: inputRequired.listRoots() } });
    }
    const uris = answer.roots.map((root: unknown) => (isObject(root) ? String(root.uri) : '?'));
    return text(`Client roots: ${uris.join(', ')}`);
  });

  tool('test_input_required_result_request_state', 'Asks for a confirmation, with state', async (ctx) => {
    const state = stateOf(ctx);
    const answer = acceptedContent(ctx.mcpReq.inputResponses, 'confirm');
    if (state?.tool !== 'request_state' || answer === undefined) {
      return inputRequired({
        inputRequests: {
          confirm: inputRequired.elicit({
            message: 'Please confirm',
            requestedSchema: z.object({ ok: z.boolean() }),
          }),
        },
        requestState: await requestStateCodec.mint({ tool: 'request_state', round: 1 }, ctx),
      });
    }
    return text(`state-ok: confirmed ${JSON.stringify(answer)}`);
  });

  tool(
    'test_input_required_result_multiple_inputs',
    'Asks for a form, a sample and the roots',
    async (ctx) => {
      const state = stateOf(ctx);
      const keys = ['user_name', 'greeting', 'client_roots'];
      const responses = ctx.mcpReq.inputResponses ?? {};
      if (state?.tool !== 'multiple_inputs' || !keys.every((key) => key in responses)) {
        return inputRequired({
          inputRequests: {
            user_name: nameRequest('What is your name?'),
            greeting: sampling('Generate a greeting', 50),
            client_roots: inputRequired.listRoots(),
          },
          requestState: await requestStateCodec.mint({ tool: 'multiple_inputs', round: 1 }, ctx),
        });
      }
      return text(`All ${keys.length} inputs received`);
    },
  );

  tool('test_input_required_result_multi_round', 'Asks two questions in two rounds', async (ctx) => {
    const state = stateOf(ctx);
    if (
      state?.tool === 'multi_round' &&
      state.round === 1 &&
      acceptedContent(ctx.mcpReq.inputResponses, 'step1')
    ) {
      return inputRequired({
        inputRequests: {
          step2: inputRequired.elicit({
            message: 'Step 2: What is your favorite color?',
            requestedSchema: z.object({ color: z.string() }),
          }),
        },
        requestState: await requestStateCodec.mint({ tool: 'multi_round', round: 2 }, ctx),
      });
    }
    const color = acceptedContent(ctx.mcpReq.inputResponses, 'step2');
    if (state?.tool === 'multi_round' && state.round === 2 && color !== undefined) {
      return text(`Both rounds answered: ${JSON.stringify(color)}`);
    }
    return inputRequired({
      inputRequests: { step1: nameRequest('Step 1: What is your name?') },
      requestState: await requestStateCodec.mint({ tool: 'multi_round', round: 1 }, ctx),
    });
  });

  tool(
    'test_input_required_result_tampered_state',
    'Seals its state; a tampered one is refused',
    async (ctx) => {
      // A state that fails the seal never reaches here: the SDK refuses it (-32602).
      const state = stateOf(ctx);
      if (state?.tool === 'tampered_state') return text('state verified');
      return inputRequired({
        inputRequests: {
          confirm: inputRequired.elicit({
            message: 'Please confirm',
            requestedSchema: z.object({ ok: z.boolean() }),
          }),
        },
        requestState: await requestStateCodec.mint({ tool: 'tampered_state', round: 1 }, ctx),
      });
    },
  );

  tool('test_input_required_result_capabilities', 'Asks only for what the client declared', (ctx) => {
    const declared = clientCapabilitiesOf(ctx);
    const requests: Record<string, InputRequest> = {};
    if (isObject(declared.elicitation)) requests.user_name = nameRequest('What is your name?');
    if (isObject(declared.sampling)) requests.greeting = sampling('Generate a greeting', 50);
    if (isObject(declared.roots)) requests.client_roots = inputRequired.listRoots();
    const responses = ctx.mcpReq.inputResponses ?? {};
    if (Object.keys(requests).length === 0 || Object.keys(requests).every((key) => key in responses)) {
      return text(`Asked for: ${Object.keys(requests).join(', ') || 'nothing (no capability declared)'}`);
    }
    return inputRequired({ inputRequests: requests });
  });

  server.registerPrompt(
    'test_input_required_result_prompt',
    { description: 'A prompt that asks the client for its context first' },
    (ctx: ServerContext) => {
      const answer = acceptedContent(ctx.mcpReq.inputResponses, 'user_context');
      if (typeof answer?.context !== 'string') {
        return inputRequired({
          inputRequests: {
            user_context: inputRequired.elicit({
              message: 'What context should the prompt use?',
              requestedSchema: z.object({ context: z.string() }),
            }),
          },
        });
      }
      return {
        messages: [{ role: 'user', content: { type: 'text', text: `Use this context: ${answer.context}` } }],
      };
    },
  );
}

/** The verified state of this round (the SDK ran `requestStateCodec.verify` before the handler). */
function stateOf(ctx: ServerContext): { tool: string; round: number } | undefined {
  return ctx.mcpReq.requestState<{ tool: string; round: number }>();
}

function responseOf(ctx: ServerContext, key: string): unknown {
  return ctx.mcpReq.inputResponses?.[key];
}

function samplingText(result: unknown): string {
  const content = isObject(result) ? result.content : undefined;
  return isObject(content) && typeof content.text === 'string' ? content.text : JSON.stringify(result);
}

function clientCapabilitiesOf(ctx: ServerContext): Record<string, unknown> {
  const envelope: Record<string, unknown> = ctx.mcpReq.envelope ?? {};
  const capabilities = envelope[CLIENT_CAPABILITIES_META_KEY];
  return isObject(capabilities) ? capabilities : {};
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
