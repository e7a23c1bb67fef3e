// Which error codes a test file asserts, found in its source, for test/error-codes.test.ts: a code
// counts only where a test checks that something came out with it, not where a file merely names
// it. A test asserts a code when the code is among the arguments of a matcher on an `expect`
// chain (`expect(x).toBe("NO_SPACE")`, `.rejects.toMatchObject({ code })`, `.toThrow(/NO_SPACE/)`),
// or flows there from a table row (`it.each`, `for (const [input, code] of cases)`) or through an
// argument of a helper of the same file that puts that parameter into such a matcher.
//
// A test that also puts the code in itself (a fake told to fail with it, `new GsnapError(code)`)
// shows a translation, not that the code is provoked, so its assertions are kept apart
// (`injected`): the check wants one test per code that asserts it without putting it in.

import ts from "typescript";

export interface CodeAssertion {
  readonly code: string;
  /** 1-based line of the asserted code (or of the table row that carries it). */
  readonly line: number;
  /** The name of the test (`it`/`test`) the assertion is in; "" outside any test. */
  readonly test: string;
  /** True when the same test also names the code outside assertions (a fault injected). */
  readonly injected: boolean;
}

const TEST_FUNCTIONS = new Set(["it", "test"]);
const BLOCK_FUNCTIONS = new Set(["it", "test", "describe", "suite"]);
/** Helpers that pass arguments to helpers: how deep the flow of a code is followed. */
const MAX_HELPER_DEPTH = 3;

/** The assertions of `codes` in one test file's source. */
export function codeAssertions(
  source: string,
  codes: readonly string[],
  fileName = "file.test.ts",
): CodeAssertion[] {
  const file = ts.createSourceFile(fileName, source, ts.ScriptTarget.Latest, true);
  const known = new Set(codes);
  const helpers = localFunctions(file);
  const occurrences: { code: string; node: ts.Node; asserted: boolean; injected: boolean }[] = [];
  const visit = (node: ts.Node): void => {
    for (const { code, exact } of codesIn(node, known)) {
      if (inMatcherArguments(node)) {
        occurrences.push({ code, node, asserted: true, injected: false });
      } else if (!isNameOrMessage(node)) {
        // It may travel to assertions (a table row, a helper's argument); anywhere else a code
        // is put in, unless it is only part of a longer text (a JSON body, a log line).
        const flow = flowOf(node, helpers, file);
        const injected = exact && (!flow.asserted || flow.injected);
        occurrences.push({ code, node, asserted: flow.asserted, injected });
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  // A code put in outside any test (in a helper of the file) counts for every test of the file.
  const injectedIn = new Set<string>();
  for (const { code, node, injected } of occurrences) {
    if (injected) injectedIn.add(`${code}@${testOf(node)?.pos ?? "file"}`);
  }
  return occurrences
    .filter((occurrence) => occurrence.asserted)
    .map(({ code, node }) => {
      const test = testOf(node);
      return {
        code,
        line: file.getLineAndCharacterOfPosition(node.getStart(file)).line + 1,
        test: test === undefined ? "" : testName(test),
        injected: injectedIn.has(`${code}@${test?.pos}`) || injectedIn.has(`${code}@file`),
      };
    });
}

/** The codes a node stands for: a string equal to one, a text or pattern holding one as a word. */
function codesIn(node: ts.Node, known: Set<string>): { code: string; exact: boolean }[] {
  if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) {
    if (known.has(node.text)) return [{ code: node.text, exact: true }];
    return wordsIn(node.text, known).map((code) => ({ code, exact: false }));
  }
  if (ts.isTemplateHead(node) || ts.isTemplateMiddle(node) || ts.isTemplateTail(node)) {
    return wordsIn(node.text, known).map((code) => ({ code, exact: false }));
  }
  if (ts.isRegularExpressionLiteral(node)) {
    return wordsIn(node.text, known).map((code) => ({ code, exact: false }));
  }
  // ERROR_CODES.NO_SPACE (its exit code or status): the string form is found as a literal.
  if (
    ts.isPropertyAccessExpression(node) &&
    ts.isIdentifier(node.expression) &&
    node.expression.text === "ERROR_CODES" &&
    known.has(node.name.text)
  ) {
    return [{ code: node.name.text, exact: true }];
  }
  return [];
}

function wordsIn(text: string, known: Set<string>): string[] {
  return (text.match(/[A-Z][A-Z_]+[A-Z]/g) ?? []).filter((word) => known.has(word));
}

/** `expect(...)`, `expect.soft(...)`, `expect.poll(...)`, and `.not`/`.rejects`/`.resolves` on them. */
function isExpectChain(node: ts.Expression): boolean {
  if (ts.isCallExpression(node)) {
    const callee = node.expression;
    if (ts.isIdentifier(callee)) return callee.text === "expect";
    return (
      ts.isPropertyAccessExpression(callee) &&
      ts.isIdentifier(callee.expression) &&
      callee.expression.text === "expect" &&
      ["soft", "poll"].includes(callee.name.text)
    );
  }
  if (
    ts.isPropertyAccessExpression(node) &&
    ["not", "rejects", "resolves"].includes(node.name.text)
  ) {
    return isExpectChain(node.expression);
  }
  return false;
}

/** A call of a matcher on an expect chain: `expect(x).toBe(...)`. */
function isMatcherCall(node: ts.Node): node is ts.CallExpression {
  return (
    ts.isCallExpression(node) &&
    ts.isPropertyAccessExpression(node.expression) &&
    isExpectChain(node.expression.expression)
  );
}

/** Whether a node sits in the arguments of a matcher call (the expected side of an assertion). */
function inMatcherArguments(node: ts.Node): boolean {
  for (let child = node, parent = node.parent; parent !== undefined; ) {
    if (isMatcherCall(parent) && parent.arguments.some((argument) => argument === child)) {
      return true;
    }
    if (ts.isFunctionLike(parent)) return false;
    child = parent;
    parent = parent.parent;
  }
  return false;
}

/** Test names (`it("...")`) and expect's message (`expect(x, "...")`): neither asserted nor put in. */
function isNameOrMessage(node: ts.Node): boolean {
  const parent = node.parent;
  if (!ts.isCallExpression(parent)) return false;
  if (ts.isIdentifier(parent.expression) && parent.expression.text === "expect") {
    return parent.arguments[1] === node;
  }
  return parent.arguments[0] === node && BLOCK_FUNCTIONS.has(rootName(parent.expression));
}

/** `it`, for `it`, `it.each(rows)`, `it.skipIf(x)`, `describe.concurrent`... */
function rootName(node: ts.Expression): string {
  if (ts.isIdentifier(node)) return node.text;
  if (ts.isPropertyAccessExpression(node)) return rootName(node.expression);
  if (ts.isCallExpression(node)) return rootName(node.expression);
  return "";
}

type Helpers = Map<string, ts.SignatureDeclaration>;

/** The functions of a file by name: declarations, and consts holding arrows or function expressions. */
function localFunctions(file: ts.SourceFile): Helpers {
  const helpers: Helpers = new Map();
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionDeclaration(node) && node.name !== undefined) {
      helpers.set(node.name.text, node);
    } else if (
      ts.isVariableDeclaration(node) &&
      ts.isIdentifier(node.name) &&
      node.initializer !== undefined &&
      (ts.isArrowFunction(node.initializer) || ts.isFunctionExpression(node.initializer))
    ) {
      helpers.set(node.name.text, node.initializer);
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return helpers;
}

/** How a code reaches the tests that use it: asserted somewhere, put in somewhere. */
interface Usage {
  asserted: boolean;
  injected: boolean;
}

const UNUSED: Usage = { asserted: false, injected: false };

function merge(a: Usage, b: Usage): Usage {
  return { asserted: a.asserted || b.asserted, injected: a.injected || b.injected };
}

/** Steps from a table row (or a helper's argument) down to the code: indexes and property names. */
type RowPath = (number | string)[];

/**
 * Where a code that is not itself in a matcher's arguments goes: into the row of a table that
 * `it.each` or a `for...of` loop runs, or into an argument of a helper of the file; followed to
 * the name it is bound to there, and that name's uses.
 */
function flowOf(node: ts.Node, helpers: Helpers, file: ts.SourceFile): Usage {
  // Climb out of the literals that hold it, noting the way back down.
  let top: ts.Node = node;
  const path: RowPath = [];
  for (;;) {
    const parent = top.parent;
    if (ts.isArrayLiteralExpression(parent)) {
      path.unshift(parent.elements.indexOf(top as ts.Expression));
    } else if (ts.isPropertyAssignment(parent) && parent.initializer === top) {
      path.unshift(parent.name.getText(file));
      top = parent.parent; // the object literal
      continue;
    } else if (
      !ts.isParenthesizedExpression(parent) &&
      !ts.isAsExpression(parent) &&
      !ts.isSatisfiesExpression(parent)
    ) {
      break;
    }
    top = parent;
  }
  let usage = tableUsage(top, path, helpers);
  const parent = top.parent;
  if (
    ts.isVariableDeclaration(parent) &&
    parent.initializer === top &&
    ts.isIdentifier(parent.name)
  ) {
    for (const reference of references(file, parent.name.text)) {
      usage = merge(usage, tableUsage(reference, path, helpers));
    }
  }
  if (ts.isCallExpression(parent) && parent.arguments.some((argument) => argument === top)) {
    const index = parent.arguments.indexOf(top as ts.Expression);
    usage = merge(usage, helperUsage(parent, { index, path }, helpers, 0));
  }
  return usage;
}

/** The usage of the code at `path` in the rows of a table run by `it.each(table)` or `for...of`. */
function tableUsage(table: ts.Node, path: RowPath, helpers: Helpers): Usage {
  if (path.length === 0) return UNUSED;
  const inRow = path.slice(1);
  let used: ts.Node = table;
  // `table.entries()` gives [index, row] pairs; `table.slice(...)` still the rows.
  let pairs = false;
  while (
    ts.isPropertyAccessExpression(used.parent) &&
    ts.isCallExpression(used.parent.parent) &&
    used.parent.parent.expression === used.parent
  ) {
    if (used.parent.name.text === "entries") pairs = true;
    used = used.parent.parent;
  }
  const parent = used.parent;
  if (ts.isForOfStatement(parent) && parent.expression === used) {
    const names = boundAt(parent.initializer, pairs ? [1, ...inRow] : inRow);
    return namesUsage(parent.statement, names, helpers, 0);
  }
  if (
    ts.isCallExpression(parent) &&
    parent.arguments[0] === used &&
    ts.isPropertyAccessExpression(parent.expression) &&
    parent.expression.name.text === "each" &&
    ts.isCallExpression(parent.parent) &&
    parent.parent.expression === parent
  ) {
    const callback = parent.parent.arguments.find(
      (argument) => ts.isArrowFunction(argument) || ts.isFunctionExpression(argument),
    ) as ts.ArrowFunction | ts.FunctionExpression | undefined;
    if (callback === undefined) return UNUSED;
    // An array row is spread over the parameters; any other row is the first argument.
    const spread = typeof inRow[0] === "number";
    const parameter = callback.parameters[spread ? (inRow[0] as number) : 0];
    if (parameter === undefined) return UNUSED;
    const names = boundAt(parameter.name, spread ? inRow.slice(1) : inRow);
    return namesUsage(callback.body, names, helpers, 0);
  }
  return UNUSED;
}

/** The usage of a helper's argument `index` (at `path` inside it) within the helper. */
function helperUsage(
  call: ts.CallExpression,
  argument: { index: number; path: RowPath },
  helpers: Helpers,
  depth: number,
): Usage {
  if (depth > MAX_HELPER_DEPTH || !ts.isIdentifier(call.expression)) return UNUSED;
  const helper = helpers.get(call.expression.text);
  const parameter = helper?.parameters[argument.index];
  const body = (helper as ts.FunctionLikeDeclaration | undefined)?.body;
  if (parameter === undefined || body === undefined) return UNUSED;
  return namesUsage(body, boundAt(parameter.name, argument.path), helpers, depth + 1);
}

/**
 * How `body` uses `names`: asserted where one is in a matcher's arguments (itself or through a
 * helper), put in where one goes anywhere else but an expect's message.
 */
function namesUsage(body: ts.Node, names: string[], helpers: Helpers, depth: number): Usage {
  let usage = UNUSED;
  if (names.length === 0) return usage;
  const wanted = new Set(names);
  const visit = (node: ts.Node): void => {
    if (ts.isIdentifier(node) && wanted.has(node.text) && !isDeclarationName(node)) {
      usage = merge(usage, identifierUsage(node, helpers, depth));
    }
    ts.forEachChild(node, visit);
  };
  visit(body);
  return usage;
}

function identifierUsage(node: ts.Identifier, helpers: Helpers, depth: number): Usage {
  if (inMatcherArguments(node)) return { asserted: true, injected: false };
  if (inExpectMessage(node)) return UNUSED;
  const parent = node.parent;
  if (ts.isCallExpression(parent) && parent.arguments.some((argument) => argument === node)) {
    const index = parent.arguments.indexOf(node);
    const usage = helperUsage(parent, { index, path: [] }, helpers, depth);
    if (usage.asserted || usage.injected) return usage;
  }
  return { asserted: false, injected: true };
}

/** Whether a node is in the message argument of `expect(value, message)`. */
function inExpectMessage(node: ts.Node): boolean {
  for (let child = node, parent = node.parent; parent !== undefined; ) {
    if (
      ts.isCallExpression(parent) &&
      ts.isIdentifier(parent.expression) &&
      parent.expression.text === "expect" &&
      parent.arguments[1] === child
    ) {
      return true;
    }
    if (ts.isFunctionLike(parent)) return false;
    child = parent;
    parent = parent.parent;
  }
  return false;
}

/** The names a binding gives the value at `path` inside what it binds (all its names past the path's end). */
function boundAt(binding: ts.Node, path: RowPath): string[] {
  if (ts.isVariableDeclarationList(binding)) {
    const declaration = binding.declarations[0];
    return declaration === undefined ? [] : boundAt(declaration.name, path);
  }
  if (ts.isIdentifier(binding) || path.length === 0) return boundNames(binding);
  const [step, ...rest] = path;
  if (ts.isArrayBindingPattern(binding) && typeof step === "number") {
    const element = binding.elements[step];
    return element !== undefined && ts.isBindingElement(element) ? boundAt(element.name, rest) : [];
  }
  if (ts.isObjectBindingPattern(binding) && typeof step === "string") {
    const element = binding.elements.find(
      (candidate) => (candidate.propertyName ?? candidate.name).getText() === step,
    );
    return element === undefined ? [] : boundAt(element.name, rest);
  }
  return [];
}

/** Whether an identifier names something rather than refers to a binding: a declaration, a property. */
function isDeclarationName(node: ts.Identifier): boolean {
  const parent = node.parent;
  if (ts.isPropertyAccessExpression(parent) || ts.isPropertyAssignment(parent)) {
    return parent.name === node;
  }
  if (ts.isBindingElement(parent) && parent.propertyName === node) return true;
  return (
    (ts.isVariableDeclaration(parent) || ts.isParameter(parent) || ts.isBindingElement(parent)) &&
    parent.name === node
  );
}

/** The names a binding introduces: `code`, `[input, code]`, `{ code }`, `const [a, b]`. */
function boundNames(node: ts.Node): string[] {
  if (ts.isIdentifier(node)) return [node.text];
  if (ts.isVariableDeclarationList(node)) {
    return node.declarations.flatMap((declaration) => boundNames(declaration.name));
  }
  if (ts.isArrayBindingPattern(node) || ts.isObjectBindingPattern(node)) {
    return node.elements.flatMap((element) =>
      ts.isBindingElement(element) ? boundNames(element.name) : [],
    );
  }
  return [];
}

/** The identifiers of a file that refer to `name` (not its declaration). */
function references(file: ts.SourceFile, name: string): ts.Identifier[] {
  const found: ts.Identifier[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isIdentifier(node) && node.text === name && !isDeclarationName(node)) found.push(node);
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

/** The innermost `it(...)`/`test(...)` call around a node (with `.each`, `.skipIf`, ...). */
function testOf(node: ts.Node): ts.CallExpression | undefined {
  for (let parent = node.parent; parent !== undefined; parent = parent.parent) {
    if (
      ts.isCallExpression(parent) &&
      TEST_FUNCTIONS.has(rootName(parent.expression)) &&
      parent.arguments.some(
        (argument) => ts.isArrowFunction(argument) || ts.isFunctionExpression(argument),
      )
    ) {
      return parent;
    }
  }
  return undefined;
}

function testName(call: ts.CallExpression): string {
  const name = call.arguments[0];
  if (
    name !== undefined &&
    (ts.isStringLiteral(name) || ts.isNoSubstitutionTemplateLiteral(name))
  ) {
    return name.text;
  }
  return name?.getText() ?? "";
}
