import { ApiProperty } from '@nestjs/swagger';
import {
  ArrayMinSize,
  ArrayUnique,
  IsArray,
  IsIn,
  IsString,
  Matches,
  MaxLength,
} from 'class-validator';
import { SERVICE_KEY_SCOPES, type ServiceKeyScope } from '../service-key-scopes.js';

export const SERVICE_KEY_NAME_MAX = 100;

export class CreateServiceKeyDto {
  @ApiProperty({
    example: 'stripe-webhook-handler',
    maxLength: SERVICE_KEY_NAME_MAX,
    description: 'Who uses the key, for the admins’ list',
  })
  @IsString()
  @Matches(/\S/, { message: 'name must not be empty' })
  @MaxLength(SERVICE_KEY_NAME_MAX)
  name: string;

  @ApiProperty({ enum: SERVICE_KEY_SCOPES, isArray: true, example: ['payments:write'] })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayUnique()
  @IsIn(SERVICE_KEY_SCOPES, { each: true })
  scopes: ServiceKeyScope[];
}
