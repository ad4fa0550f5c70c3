import { memberName, type OptionOptions, updateRecord } from './metadata.js';

/**
 * A command-line option of a command; the parsed value is set on the
 * property before PreRun. The type follows the property's type.
 * @example
 * @Option('--name', { description: 'Who to greet', required: true }) name!: string;
 */
export function Option(flag: string, options: OptionOptions = {}): PropertyDecorator {
  return (target, key) =>
    // On a static property `target` is the class itself: record the problem there, not on Function.
    updateRecord(typeof target === 'function' ? target : target.constructor, (record) => {
      if (typeof key === 'symbol' || typeof target === 'function') {
        record.problems.push(`${memberName(target, key)}: @Option needs an instance property with a string name.`);
        return;
      }
      const designType = Reflect.getMetadata?.('design:type', target, key);
      record.options.push({ property: key, flag, options, designType });
    });
}
