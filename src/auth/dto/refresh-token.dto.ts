import { ApiProperty } from '@nestjs/swagger';
import { IsString, MaxLength, MinLength } from 'class-validator';

export class RefreshTokenDto {
  @ApiProperty({ description: 'The refresh token from login, register or the last refresh' })
  @IsString()
  @MinLength(16)
  @MaxLength(256)
  refreshToken: string;
}
