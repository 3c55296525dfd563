import { Module } from '@nestjs/common';
import { PsychologistsController } from './psychologists.controller.js';
import { PsychologistsService } from './psychologists.service.js';

@Module({
  controllers: [PsychologistsController],
  providers: [PsychologistsService],
  exports: [PsychologistsService],
})
export class PsychologistsModule {}
