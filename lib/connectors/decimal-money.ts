import { money, type Money } from '../money';

/**
 * Vendors that speak decimals (HubSpot's "1234.5" amounts, Odoo's JSON floats) meet our minor units here, by string
 * manipulation at the currency's exponent (ISO 4217, from Intl), so no float arithmetic touches an amount.
 */
export function currencyExponent(currency: string): number {
  return new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
}

/** "1234.5" or 1234.5 in USD -> 123450 minor units; rounds half away from zero beyond the exponent. */
export function decimalToMoney(value: string | number, currency: string): Money {
  const exponent = currencyExponent(currency);
  // toFixed rounds a float to the nearest representable decimal at the exponent; a string is parsed the same way.
  const fixed = (typeof value === 'number' ? value : Number(value)).toFixed(exponent);
  if (!/^-?\d+(\.\d+)?$/.test(fixed)) throw new RangeError(`not a decimal amount: ${String(value)}`);
  return money(BigInt(fixed.replace('.', '')), currency);
}

/** 123450 minor units of USD -> "1234.50". */
export function moneyToDecimal(amount: Money): string {
  const exponent = currencyExponent(amount.currency);
  const minor = BigInt(amount.amountMinor);
  const negative = minor < 0n;
  const digits = (negative ? -minor : minor).toString().padStart(exponent + 1, '0');
  const whole = digits.slice(0, digits.length - exponent);
  const fraction = digits.slice(digits.length - exponent);
  return `${negative ? '-' : ''}${whole}${exponent > 0 ? `.${fraction}` : ''}`;
}
