import { buildMessage, ValidateBy, type ValidationOptions } from 'class-validator';

/**
 * An integer from `min` to `max`, with one message for every way of missing it: IsInt, Min and
 * Max together answer a string such as "50" with three messages, two of them wrong.
 */
export function IsIntegerInRange(
  min: number,
  max: number,
  options?: ValidationOptions,
): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isIntegerInRange',
      constraints: [min, max],
      validator: {
        validate: (value: unknown) =>
          typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max,
        defaultMessage: buildMessage(
          (each) => `${each}$property must be an integer from ${min} to ${max}`,
          options,
        ),
      },
    },
    options,
  );
}
