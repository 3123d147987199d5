import { type Change, CriticalityLevel, diff } from '@graphql-inspector/core';
import {
  type DirectiveNode,
  type GraphQLNamedType,
  type GraphQLSchema,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isObjectType,
} from 'graphql';

/**
 * The breaking changes from `released` to `current` that the deprecation policy does not allow: a breaking change is
 * allowed only when the element it removes or changes was already `@deprecated(reason: "...")` in `released` (a field,
 * argument, input field or enum value; for an argument, its field's deprecation covers it too). A removed type is
 * allowed when every released field, argument and input field of that type was deprecated, which is how a type goes
 * away once the last field returning it has served its deprecation period. Non-breaking and dangerous changes pass.
 */
export async function disallowedBreakingChanges(released: GraphQLSchema, current: GraphQLSchema): Promise<Change[]> {
  const changes = await diff(released, current);
  return changes.filter((c) => c.criticality.level === CriticalityLevel.Breaking && !deprecatedInRelease(released, c));
}

function deprecatedInRelease(released: GraphQLSchema, change: Change): boolean {
  const path = change.path?.split('.') ?? [];
  const [typeName, member, arg] = path;
  if (!typeName) return false;
  if (member === undefined) return change.type === 'TYPE_REMOVED' && onlyDeprecatedUses(released, typeName);
  const owner = released.getType(typeName);
  if (!owner) return false;
  if (arg !== undefined) return isObjectOrInterface(owner) && (argDeprecated(owner, member, arg) || hasReason(owner.getFields()[member]?.astNode?.directives));
  return memberDeprecated(owner, member);
}

function memberDeprecated(owner: GraphQLNamedType, member: string): boolean {
  if (isObjectOrInterface(owner) || isInputObjectType(owner)) return hasReason(owner.getFields()[member]?.astNode?.directives);
  if (isEnumType(owner)) return hasReason(owner.getValue(member)?.astNode?.directives);
  return false;
}

function argDeprecated(owner: ObjectOrInterface, field: string, arg: string): boolean {
  return hasReason(owner.getFields()[field]?.args.find((a) => a.name === arg)?.astNode?.directives);
}

/** True when every released use of the type (field and argument types, input fields) was deprecated with a reason. */
function onlyDeprecatedUses(released: GraphQLSchema, typeName: string): boolean {
  for (const type of Object.values(released.getTypeMap())) {
    if (isObjectOrInterface(type)) {
      for (const field of Object.values(type.getFields())) {
        const fieldDeprecated = hasReason(field.astNode?.directives);
        if (getNamedType(field.type).name === typeName && !fieldDeprecated) return false;
        for (const a of field.args) {
          if (getNamedType(a.type).name === typeName && !fieldDeprecated && !hasReason(a.astNode?.directives)) return false;
        }
      }
    } else if (isInputObjectType(type)) {
      for (const field of Object.values(type.getFields())) {
        if (getNamedType(field.type).name === typeName && !hasReason(field.astNode?.directives)) return false;
      }
    }
  }
  return true;
}

/**
 * Reads the SDL, not `deprecationReason`: graphql-js fills in "No longer supported" for a bare `@deprecated`, and the
 * policy asks for a reason the client can act on.
 */
function hasReason(directives: readonly DirectiveNode[] | undefined): boolean {
  const reason = directives?.find((d) => d.name.value === 'deprecated')?.arguments?.find((a) => a.name.value === 'reason')?.value;
  return reason?.kind === 'StringValue' && reason.value.trim() !== '';
}

type ObjectOrInterface = Extract<GraphQLNamedType, { getInterfaces: unknown }>;

function isObjectOrInterface(type: GraphQLNamedType | undefined | null): type is ObjectOrInterface {
  return isObjectType(type) || isInterfaceType(type);
}
