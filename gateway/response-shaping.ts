import {
  type CompositeType, type EnumType, type FieldSelection, type FragmentSelection, type Operation, type ScalarType, type Schema, type SelectionSet, type Type,
  ERRORS, Variable, isCompositeType, isListType, isNonNullType, isObjectType, isSubtype, isValidLeafValue, typenameFieldName,
} from '@apollo/federation-internals';
import type { GraphQLError } from 'graphql';

/**
 * @apollo/gateway's result shaping (`computeResponse` in @apollo/gateway/dist/resultShaping.js: the subgraphs' merged
 * data cut to the client's selection, `__typename`s filled in, nulls bubbled up to the nearest nullable field) with each
 * selection set compiled once into a list of steps. Apollo's walks the operation model on every object of every answer
 * and asks each selection for its `@skip`/`@include` (two directive lookups and filters each time), its response name,
 * its definition and its type; here those answers are read once per selection set and kept (WeakMap) for as long as
 * the operation lives (gateway/operation-memo.ts keeps one per operation, so for as long as Apollo's document store
 * keeps the document). The algorithm, its order, its errors and its output are Apollo's, step for step
 * (test/response-shaping.test.ts compares both on the same inputs).
 */

type IfValue = boolean | { variable: string; directive: string };

interface Conditions {
  skip?: IfValue;
  include?: IfValue;
}

type Step =
  | { kind: 'introspection'; when: Conditions | null; responseName: string; selection: FieldSelection }
  | { kind: 'typename'; when: Conditions | null; responseName: string }
  | { kind: 'field'; when: Conditions | null; responseName: string; type: Type; selectionSet: SelectionSet | undefined }
  | { kind: 'fragment'; when: Conditions | null; typeCondition: CompositeType | undefined; selectionSet: SelectionSet };

interface Parameters {
  schema: Schema;
  variables: Record<string, unknown>;
  errors: GraphQLError[];
  introspectionHandling: (selection: FieldSelection) => unknown;
}

const NULL_BUBBLE_UP = 1;
const OK = 0;

/** A `@skip`/`@include` application: its `if` argument, and how Apollo prints it in its assertion. */
interface IfDirective {
  arguments(): { if: boolean | Variable };
  toString(): string;
}

function ifValue(directive: IfDirective): IfValue {
  const arg = directive.arguments().if;
  return arg instanceof Variable ? { variable: arg.name, directive: directive.toString() } : arg;
}

function conditionsOf(element: FieldSelection['element'] | FragmentSelection['element'], schema: Schema): Conditions | null {
  const skip = element.appliedDirectivesOf(schema.skipDirective())[0];
  const include = element.appliedDirectivesOf(schema.includeDirective())[0];
  if (!skip && !include) return null;
  return { ...(skip ? { skip: ifValue(skip) } : {}), ...(include ? { include: ifValue(include) } : {}) };
}

function evaluate(value: IfValue, variables: Record<string, unknown>): boolean {
  if (typeof value === 'boolean') return value;
  const v = variables[value.variable];
  if (v === undefined || typeof v !== 'boolean') throw new Error(`Unexpected value ${String(v)} for variable $${value.variable} of ${value.directive}`);
  return v;
}

function skipped(when: Conditions | null, variables: Record<string, unknown>): boolean {
  if (!when) return false;
  return (when.skip !== undefined && evaluate(when.skip, variables)) || (when.include !== undefined && !evaluate(when.include, variables));
}

const compiled = new WeakMap<SelectionSet, Step[]>();

function stepsOf(selectionSet: SelectionSet, schema: Schema): Step[] {
  const known = compiled.get(selectionSet);
  if (known) return known;
  const steps: Step[] = selectionSet.selections().map((selection): Step => {
    const when = conditionsOf(selection.element, schema);
    if (selection.kind === 'FieldSelection') {
      const field = selection.element;
      const responseName = field.responseName();
      if (field.definition.isSchemaIntrospectionField()) return { kind: 'introspection', when, responseName, selection };
      if (field.name === typenameFieldName) return { kind: 'typename', when, responseName };
      return { kind: 'field', when, responseName, type: field.definition.type as Type, selectionSet: selection.selectionSet };
    }
    return { kind: 'fragment', when, typeCondition: selection.element.typeCondition, selectionSet: selection.selectionSet };
  });
  compiled.set(selectionSet, steps);
  return steps;
}

type Obj = Record<string, unknown>;
const own = (o: Obj, key: string): unknown => (Object.prototype.hasOwnProperty.call(o, key) ? o[key] : undefined);

function typeConditionApplies(schema: Schema, typeCondition: CompositeType | undefined, typename: string | undefined, parentType: CompositeType): boolean {
  if (!typeCondition) return true;
  if (typename) {
    const type = schema.type(typename);
    return !!type && isSubtype(typeCondition, type);
  }
  return isSubtype(typeCondition, parentType);
}

function pathLastElementDescription(path: (string | number)[], currentType: Type, parentType: CompositeType): string {
  const element = path[path.length - 1];
  if (element === undefined) throw new Error('Should not have been called on an empty path');
  return typeof element === 'string' ? `field ${parentType.toString()}.${element}` : `array element of type ${currentType.toString()} at index ${element}`;
}

function applySelectionSet(input: Obj, selectionSet: SelectionSet, output: Obj, parameters: Parameters, path: (string | number)[], parentType: CompositeType): number {
  for (const step of stepsOf(selectionSet, parameters.schema)) {
    if (skipped(step.when, parameters.variables)) continue;
    if (step.kind === 'fragment') {
      const typename = input[typenameFieldName];
      if (typename && typeof typename !== 'string') throw new Error(`Got unexpected value for __typename: ${String(typename)}`);
      if (typeConditionApplies(parameters.schema, step.typeCondition, typeof typename === 'string' ? typename : undefined, parentType)) {
        if (applySelectionSet(input, step.selectionSet, output, parameters, path, step.typeCondition ?? parentType) === NULL_BUBBLE_UP) return NULL_BUBBLE_UP;
      }
      continue;
    }
    const responseName = step.responseName;
    const outputValue = output[responseName];
    if (step.kind === 'introspection') {
      if (outputValue === undefined) output[responseName] = parameters.introspectionHandling(step.selection);
      continue;
    }
    let inputValue = own(input, responseName) ?? null;
    if (step.kind === 'typename') {
      if (outputValue === undefined) {
        if (inputValue === null && responseName !== typenameFieldName) inputValue = input[typenameFieldName] ?? null;
        const type = inputValue !== null && typeof inputValue === 'string' ? (parameters.schema.type(inputValue) ?? parentType) : parentType;
        if (!isObjectType(type)) return NULL_BUBBLE_UP;
        output[responseName] = type.name;
      }
      continue;
    }
    path.push(responseName);
    const flags: Flags = { isInvalid: false, hasErrors: false };
    output[responseName] = updateOutputValue(outputValue, step.type, inputValue, step.selectionSet, path, parameters, parentType, flags);
    path.pop();
    if (flags.isInvalid) return NULL_BUBBLE_UP;
  }
  return OK;
}

interface Flags {
  isInvalid: boolean;
  hasErrors: boolean;
}

/** Apollo's updateOutputValue; its `{ updated, isInvalid, hasErrors }` is the return value and `flags`. */
function updateOutputValue(
  outputValue: unknown, type: Type, inputValue: unknown, selectionSet: SelectionSet | undefined, path: (string | number)[], parameters: Parameters, parentType: CompositeType, flags: Flags,
): unknown {
  if (inputValue === undefined) throw new Error('Should not pass undefined for `inputValue` to this method');
  if (outputValue === null || (outputValue !== undefined && !selectionSet)) return outputValue;
  if (isNonNullType(type)) {
    const inner: Flags = { isInvalid: false, hasErrors: false };
    const updated = updateOutputValue(outputValue, type.ofType, inputValue, selectionSet, path, parameters, parentType, inner);
    if (updated === null) {
      if (!inner.hasErrors) {
        parameters.errors.push(
          ERRORS.INVALID_GRAPHQL.err(`Cannot return null for non-nullable ${pathLastElementDescription(path, type.ofType, parentType)}.`, { path: Array.from(path) }),
        );
      }
      flags.isInvalid = true;
      flags.hasErrors = true;
    }
    return updated;
  }
  if (inputValue === null) return null;
  if (isListType(type)) {
    if (!Array.isArray(inputValue)) throw new Error(`Invalid non-list value ${String(inputValue)} returned by subgraph for list type ${type.toString()}`);
    if (outputValue !== undefined && !Array.isArray(outputValue)) throw new Error(`Invalid non-list value ${String(outputValue)} returned by subgraph for list type ${type.toString()}`);
    const outputList: unknown[] = outputValue === undefined ? new Array<unknown>(inputValue.length).fill(undefined) : (outputValue as unknown[]);
    if (inputValue.length !== outputList.length) throw new Error(`[${String(inputValue)}].length (${inputValue.length}) !== [${String(outputList)}].length (${outputList.length})`);
    let shouldNullify = false;
    let hasErrors = false;
    const element: Flags = { isInvalid: false, hasErrors: false };
    const updated = new Array<unknown>(outputList.length);
    for (let idx = 0; idx < outputList.length; idx++) {
      path.push(idx);
      element.isInvalid = false;
      element.hasErrors = false;
      updated[idx] = updateOutputValue(outputList[idx], type.ofType, inputValue[idx] as unknown, selectionSet, path, parameters, parentType, element);
      path.pop();
      shouldNullify ||= element.isInvalid;
      hasErrors ||= element.hasErrors;
    }
    flags.hasErrors = hasErrors;
    return shouldNullify ? null : updated;
  }
  if (isCompositeType(type)) {
    if (!selectionSet) throw new Error(`Invalid empty selection set for composite type ${type.toString()}`);
    if (typeof inputValue !== 'object') throw new Error(`Invalid non-object value ${String(inputValue)} returned by subgraph for composite type ${type.toString()}`);
    if (outputValue !== undefined && typeof outputValue !== 'object') throw new Error(`Invalid non-object value ${String(inputValue)} returned by subgraph for composite type ${type.toString()}`);
    const input = inputValue as Obj;
    const inputTypename = input[typenameFieldName];
    if (inputTypename !== undefined && typeof inputTypename !== 'string') throw new Error(`Invalid non-string value ${String(inputTypename)} for __typename at ${path.join(',')}`);
    let objType: CompositeType = type;
    if (inputTypename) {
      const typenameType = parameters.schema.type(inputTypename);
      if (!typenameType || !isCompositeType(typenameType)) {
        parameters.errors.push(ERRORS.INVALID_GRAPHQL.err(`Invalid __typename found for object at ${pathLastElementDescription(path, type, parentType)}.`, { path: Array.from(path) }));
        flags.hasErrors = true;
        return null;
      }
      objType = typenameType;
    }
    const outputObject = (outputValue === undefined ? Object.create(null) : outputValue) as Obj;
    const bubbled = applySelectionSet(input, selectionSet, outputObject, parameters, path, objType) === NULL_BUBBLE_UP;
    flags.hasErrors = bubbled;
    return bubbled ? null : outputObject;
  }
  if (outputValue !== undefined) throw new Error(`Excepted output to be undefined but got ${type.toString()} for type ${type.toString()}`);
  // What is left of an output type: a scalar or an enum.
  const valid = isValidLeafValue(parameters.schema, inputValue, type as ScalarType | EnumType);
  if (!valid) {
    parameters.errors.push(ERRORS.INVALID_GRAPHQL.err(`Invalid value found for ${pathLastElementDescription(path, type, parentType)}.`, { path: Array.from(path) }));
    flags.hasErrors = true;
  }
  return valid ? inputValue : null;
}

export interface ComputeResponseInput {
  operation: Operation;
  variables?: Record<string, unknown>;
  input: Record<string, unknown> | null | undefined;
  introspectionHandling: (selection: FieldSelection) => unknown;
}

/** Drop-in for @apollo/gateway's computeResponse (same arguments, same result). */
export function computeResponse({ operation, variables, input, introspectionHandling }: ComputeResponseInput): { data: Record<string, unknown> | null | undefined; errors: GraphQLError[] } {
  if (!input) return { data: input, errors: [] };
  const schema = operation.schema();
  const parameters: Parameters = {
    schema,
    variables: Object.assign(Object.create(null) as Record<string, unknown>, operation.collectDefaultedVariableValues(), variables),
    errors: [],
    introspectionHandling,
  };
  const data = Object.create(null) as Record<string, unknown>;
  const root = schema.schemaDefinition.rootType(operation.rootKind);
  if (!root) throw new Error(`No root type for ${operation.rootKind}`);
  const res = applySelectionSet(input, operation.selectionSet, data, parameters, [], root);
  return { data: res === NULL_BUBBLE_UP ? null : data, errors: parameters.errors };
}

type ComputeResponse = typeof computeResponse;
const MARK = Symbol.for('sor.compiledShaping');
const shapingModule = require('@apollo/gateway/dist/resultShaping') as { computeResponse: ComputeResponse };

/** @apollo/gateway's own computeResponse, which this module replaces (test/response-shaping.test.ts compares the two). */
export const apolloComputeResponse: ComputeResponse = MARK in shapingModule.computeResponse ? (shapingModule.computeResponse as ComputeResponse & { [MARK]: ComputeResponse })[MARK] : shapingModule.computeResponse;

// A plain export its executeQueryPlan reads on every call: put ours in its place (once, however often this loads).
if (!(MARK in shapingModule.computeResponse)) {
  Object.defineProperty(computeResponse, MARK, { value: apolloComputeResponse });
  shapingModule.computeResponse = computeResponse;
}
