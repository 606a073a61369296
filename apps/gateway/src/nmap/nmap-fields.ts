// The nmap_flags and targets fields, validated alike wherever a request carries an nmap run.
import { applyDecorators } from '@nestjs/common';
import { ApiProperty } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  ArrayNotEmpty,
  IsArray,
  IsDefined,
  IsOptional,
  IsString,
  MaxLength,
} from 'class-validator';
import { MAX_FLAG_LENGTH, MAX_FLAGS, MAX_TARGET_LENGTH } from '@nso/nmap';
import { PlainText } from '../common/text-fields';

// The lengths and counts are the policy's own (NmapArgumentPolicy, parseTargets), so that a request is refused
// here only for what the policy would refuse too, and scan definitions (whose scan_arguments and ports go to the
// policy alone) and one-off starts accept the same options.
// applyDecorators applies in list order, stacked decorators bottom-up: the lists are bottom-up, so the rules
// register as they would stacked, and error messages keep their order (see common/validation.ts).

/**
 * `nmap_flags`: required, or optional with the given default (documented in OpenAPI; the service applies it).
 */
export const NmapFlagsField = (example: string[], defaults?: readonly string[]) =>
  applyDecorators(
    MaxLength(MAX_FLAG_LENGTH, { each: true }),
    PlainText({}, { each: true }),
    IsString({ each: true }),
    ArrayMaxSize(MAX_FLAGS),
    IsArray(),
    defaults ? IsOptional() : IsDefined(),
    ApiProperty({
      type: [String],
      example,
      required: !defaults,
      ...(defaults ? { default: [...defaults] } : {}),
      description: defaults
        ? `Options on the allow-list; ${JSON.stringify(defaults)} when omitted`
        : 'Options on the allow-list',
    }),
  );

export const TargetsField = (maxTargets: number, example: string[]) =>
  applyDecorators(
    MaxLength(MAX_TARGET_LENGTH, { each: true }),
    PlainText({}, { each: true }),
    IsString({ each: true }),
    ArrayMaxSize(maxTargets),
    ArrayNotEmpty(),
    IsArray(),
    ApiProperty({ type: [String], example, description: 'Addresses, ranges, CIDRs or host names' }),
  );
