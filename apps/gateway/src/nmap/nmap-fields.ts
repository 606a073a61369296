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
import { PlainText } from '../common/text-fields';

// applyDecorators applies in list order, stacked decorators bottom-up: the lists are bottom-up, so the rules
// register as they would stacked, and error messages keep their order (see common/validation.ts).

/**
 * `nmap_flags`: required, or optional with the given default (documented in OpenAPI; the service applies it).
 */
export const NmapFlagsField = (example: string[], defaults?: readonly string[]) =>
  applyDecorators(
    MaxLength(256, { each: true }),
    PlainText({}, { each: true }),
    IsString({ each: true }),
    ArrayMaxSize(64),
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
    MaxLength(256, { each: true }),
    PlainText({}, { each: true }),
    IsString({ each: true }),
    ArrayMaxSize(maxTargets),
    ArrayNotEmpty(),
    IsArray(),
    ApiProperty({ type: [String], example, description: 'Addresses, ranges, CIDRs or host names' }),
  );
